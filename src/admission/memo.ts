/**
 * Reviews that differ only in their uid. During a rollout the API server sends the same pod over and over: a
 * ReplicaSet's pods have the same template, and their names are generated after mutating admission, so the review
 * bodies differ in `request.uid` alone. The transport keys what it learnt about one body by the body without its
 * uid: that it decodes, and — when nothing the handler reads has changed since — its answer.
 */

/** Bodies longer than this are not remembered (a pod review is a few KiB): with `MEMO_ENTRIES`, ≤ 8 MiB of keys per endpoint. */
export const MEMO_MAX_TEXT = 32 * 1024;
/** Bodies remembered per endpoint, least recently used dropped first. */
export const MEMO_ENTRIES = 256;

const UID_FIELD = '"uid":';

/**
 * The body text without its uid, and where the uid was: two bodies have the same key only if they are the same
 * text but for the string literal of the uid. Then they parse to the same value except `request.uid`:
 *
 * - the literal is found right after `"uid":`; in valid JSON the quote after `uid` closes a string (a quote after a
 *   letter is never escaped), so the colon is a key's and the literal is one whole value token (`JSON.stringify`
 *   output ends at its only unescaped quote): the two texts tokenize alike except for that token;
 * - if that token were not `request.uid`'s value, both bodies would have the same `request.uid`, hence the same
 *   literal, hence be the same text.
 *
 * Undefined when the uid is not written as `JSON.stringify` writes it (then nothing is remembered), or the text is
 * too long.
 */
export function reviewKey(text: string, uid: unknown): string | undefined {
  if (typeof uid !== 'string' || uid === '' || text.length > MEMO_MAX_TEXT) return undefined;
  const literal = JSON.stringify(uid);
  const found = text.indexOf(UID_FIELD + literal);
  if (found < 0) return undefined;
  const at = found + UID_FIELD.length;
  return `${at}:${text.slice(0, at)}${text.slice(at + literal.length)}`;
}

/** An answer's JSON text cut around its uid, to be answered again for another uid. */
export interface AnswerText {
  readonly before: string;
  readonly after: string;
}

/** `text` (a serialized AdmissionReview answer) cut around the first `"uid":<uid>`; undefined when absent. */
export function cutAnswer(text: string, uid: string): AnswerText | undefined {
  const literal = JSON.stringify(uid);
  const found = text.indexOf(UID_FIELD + literal);
  if (found < 0) return undefined;
  const at = found + UID_FIELD.length;
  return { before: text.slice(0, at), after: text.slice(at + literal.length) };
}

export function answerFor(answer: AnswerText, uid: string): string {
  return answer.before + JSON.stringify(uid) + answer.after;
}

/** A map of at most `capacity` entries that drops the least recently used first. */
export class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(readonly capacity: number = MEMO_ENTRIES) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
}
