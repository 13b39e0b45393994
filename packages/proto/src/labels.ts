// Node labels (an agent's `--label zone=eu-1`) and the constraints a job puts
// on them (`constraints: {gpu_model: A100}`). One rule for both, and the same
// as Kubernetes label keys and values so the K8s path can pass them through:
//
//   key:   [prefix/]name
//          name:   1–63 of letters, digits, '-', '_' and '.', starting and
//                  ending with a letter or digit (gpu_model, zone, rack-id)
//          prefix: a DNS subdomain, lowercase labels joined by '.', ≤ 253
//                  (example.com/rack)
//   value: 1–63 of letters, digits, '-', '_' and '.', starting and ending
//          with a letter or digit (A100, eu-west-1a, 4.0)

/** Most constraints one component may have, and most labels one node may carry. */
export const MAX_LABELS = 32;

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const SUBDOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const LABEL_KEY_RULE =
  "[prefix/]name: name is 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit; the optional prefix is a lowercase DNS subdomain such as example.com";
export const LABEL_VALUE_RULE = "1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

export function isLabelKey(key: string): boolean {
  const slash = key.indexOf("/");
  if (slash === -1) return NAME.test(key);
  const prefix = key.slice(0, slash);
  const name = key.slice(slash + 1);
  if (prefix.length === 0 || prefix.length > 253 || !NAME.test(name)) return false;
  return prefix.split(".").every((part) => SUBDOMAIN_LABEL.test(part));
}

export function isLabelValue(value: string): boolean {
  return NAME.test(value);
}
