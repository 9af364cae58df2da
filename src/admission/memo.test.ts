import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answerFor, cutAnswer, Lru, MEMO_MAX_TEXT, reviewKey } from './memo.js';

const uidIn = (text: string): unknown => (JSON.parse(text) as { request: { uid: unknown } }).request.uid;
const body = (uid: string, labels: Record<string, string> = { app: 'web' }) =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, object: { metadata: { labels } } } });

/** The parsed body without `request.uid`: what two bodies of the same key must share. */
const withoutUid = (text: string) => {
  const value = JSON.parse(text) as { request?: { uid?: unknown } };
  if (value.request && typeof value.request === 'object') delete value.request.uid;
  return value;
};

describe('reviewKey', () => {
  it.each([
    { what: 'bodies that differ in the uid only', a: body('u1'), b: body('u2'), same: true },
    { what: 'a uid with quotes and escapes', a: body('a"b\\c'), b: body('u2'), same: true },
    { what: 'bodies that differ elsewhere', a: body('u1'), b: body('u2', { app: 'db' }), same: false },
    { what: 'a label that reads like a uid field', a: body('u1', { x: '"uid":"u1"' }), b: body('u2', { x: '"uid":"u2"' }), same: false },
  ])('$what: same key $same', ({ a, b, same }) => {
    const ka = reviewKey(a, uidIn(a));
    const kb = reviewKey(b, uidIn(b));
    expect(ka).toBeDefined();
    expect(ka === kb).toBe(same);
  });

  it.each([
    { what: 'a uid that is not a string', text: '{"request":{"uid":7}}', uid: 7 },
    { what: 'an empty uid', text: '{"request":{"uid":""}}', uid: '' },
    { what: 'a uid written with an escape JSON.stringify would not use', text: '{"request":{"uid":"\\u0061"}}', uid: 'a' },
    { what: 'a uid written with spaces around the colon', text: '{"request":{"uid" : "a"}}', uid: 'a' },
    { what: 'a body over the limit', text: `{"request":{"uid":"a","pad":"${'x'.repeat(MEMO_MAX_TEXT)}"}}`, uid: 'a' },
  ])('$what: no key', ({ text, uid }) => {
    expect(reviewKey(text, uid)).toBeUndefined();
  });

  it('two bodies of the same key parse alike but for request.uid (any JSON around it, any uids)', () => {
    const object = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 });
    const uid = fc.string({ minLength: 1, maxLength: 8 });
    // The uid may also appear elsewhere, as a key or a value (`"uid":"<uid>"` inside the object).
    fc.assert(
      fc.property(object, object, uid, uid, fc.boolean(), (before, after, u1, u2, echo) => {
        const text = (u: string) => JSON.stringify({ ...before, request: { ...(echo ? { uid0: { uid: u } } : {}), ...after, uid: u } });
        const a = text(u1);
        const b = text(u2);
        const ka = reviewKey(a, uidIn(a));
        const kb = reviewKey(b, uidIn(b));
        if (ka !== undefined && ka === kb) expect(withoutUid(a)).toEqual(withoutUid(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('bodies of the same key but for an altered text elsewhere never share it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (uid, x, y) => {
        const a = body(uid, { x });
        const b = body(`${uid}-2`, { x: y });
        const ka = reviewKey(a, uid);
        const kb = reviewKey(b, `${uid}-2`);
        expect(ka === kb).toBe(x === y);
      }),
    );
  });
});

describe('cutAnswer', () => {
  it('answers the same text for another uid', () => {
    const text = JSON.stringify({ kind: 'AdmissionReview', response: { uid: 'u1', allowed: true, patch: 'W10=' } });
    const cut = cutAnswer(text, 'u1');
    expect(cut).toBeDefined();
    expect(JSON.parse(answerFor(cut!, 'x"y'))).toEqual({ kind: 'AdmissionReview', response: { uid: 'x"y', allowed: true, patch: 'W10=' } });
  });
});

describe('Lru', () => {
  it('keeps at most its capacity, dropping the least recently used', () => {
    const lru = new Lru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // now b is the oldest
    lru.set('c', 3);
    expect(lru.size).toBe(2);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
  });
});
