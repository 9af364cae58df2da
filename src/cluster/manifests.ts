import { stringify } from 'yaml';
import { RULES_CONFIGMAP, RULES_CONFIGMAP_KEY, RULES_CONFIGMAP_LABEL } from '../rules/configmap.js';

export { RULES_CONFIGMAP };

/** The rules ConfigMap of webhook-config/, holding a rules document under `rules.yaml`. */
export function rulesConfigMapManifest(rulesYaml: string): string {
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: RULES_CONFIGMAP.name,
      namespace: RULES_CONFIGMAP.namespace,
      labels: { 'app.kubernetes.io/name': 'placement-webhook', [RULES_CONFIGMAP_LABEL]: 'true' },
    },
    data: { [RULES_CONFIGMAP_KEY]: rulesYaml },
  };
  return `# Generated from examples/rules.yaml by \`npm run generate\`. Edit live with:\n#   kubectl -n ${RULES_CONFIGMAP.namespace} edit configmap ${RULES_CONFIGMAP.name}\n${stringify(cm, { blockQuote: 'literal', lineWidth: 0 })}`;
}
