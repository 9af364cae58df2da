import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { StaticCluster } from '../cluster/static.js';
import { ruleSet } from '../../test/support/builders.js';
import { buildApp } from './app.js';
import { metricKind, Metrics } from './metrics.js';

describe('metric labels come from fixed sets', () => {
  it.each([
    { kind: { group: '', kind: 'Pod' }, want: 'Pod' },
    { kind: { group: '', kind: 'ConfigMap' }, want: 'ConfigMap' },
    { kind: { group: 'apps', kind: 'Deployment' }, want: 'Deployment' },
    { kind: { group: 'batch', kind: 'CronJob' }, want: 'CronJob' },
    { kind: { group: '', kind: 'ReplicationController' }, want: 'ReplicationController' },
    { kind: { group: 'example.com', kind: 'Deployment' }, want: 'other' },
    { kind: { group: '', kind: 'x'.repeat(10_000) }, want: 'other' },
  ])('$kind.group/$kind.kind → $want', ({ kind, want }) => expect(metricKind(kind)).toBe(want));

  it('200 reviews with distinct made-up kinds add one series, not 200', async () => {
    const metrics = new Metrics(false);
    const app = buildApp({ ctx: new StaticCluster(ruleSet([])), logger: pino({ level: 'silent' }), metrics });
    const before = (await metrics.registry.metrics()).length;
    for (let i = 0; i < 200; i++) {
      const kind = `Kind${i}${'x'.repeat(10_000)}`;
      await app.inject({
        method: 'POST',
        url: '/mutate',
        payload: {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: {
            uid: `u${i}`,
            kind: { group: 'g', version: 'v1', kind },
            resource: { group: 'g', version: 'v1', resource: 'r' },
            operation: 'CREATE',
            object: {},
          },
        },
      });
    }
    const text = await metrics.registry.metrics();
    expect(text.length - before).toBeLessThan(2000);
    expect(text).toContain('placement_webhook_reviews_total{endpoint="mutate",decision="skipped",kind="other"} 200');
    await app.close();
  });
});
