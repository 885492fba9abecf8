/** Kubernetes objects as one multi-document YAML stream, for `kubectl apply -f -`. */
import { stringify } from 'yaml';

export function yamlDocuments(objects: readonly unknown[]): string {
  // lineWidth 0: PEM keys and CEL expressions stay on the lines they were written on.
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}
