import { isLabelKey, isLabelValue, LABEL_KEY_RULE, LABEL_VALUE_RULE, MAX_LABELS } from "@maro/proto";

/**
 * `--labels k=v,k2=v2`: the node's labels, matched by job constraints. Throws
 * an Error saying which pair is wrong and what a good one looks like.
 */
export function parseNodeLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pairs = text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (pairs.length > MAX_LABELS) throw new Error(`${pairs.length} labels; a node carries at most ${MAX_LABELS}`);
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 0) throw new Error(`"${pair}" is not key=value (e.g. gpu_model=A100)`);
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!isLabelKey(key)) throw new Error(`label key "${key}" is not valid: ${LABEL_KEY_RULE}`);
    if (value === "") throw new Error(`label ${key} has an empty value: give one, as in ${key}=a`);
    if (!isLabelValue(value)) throw new Error(`label ${key}: value "${value}" is not valid: ${LABEL_VALUE_RULE}`);
    if (key in labels) throw new Error(`label ${key} is given twice`);
    labels[key] = value;
  }
  return labels;
}
