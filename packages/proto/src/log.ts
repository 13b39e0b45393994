// One-line JSON logs on stderr. Fields whose name looks secret are redacted.
// Matches names like password, redisPassword, token, joinToken, keyPem; not tokenId.
const SECRET = /(pass(word)?|secret|token|key|keypem|credentials?)$/i;

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET.test(k) ? "[redacted]" : v;
  return out;
}

export function createLogger(component: string, sink: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const write = (level: string, msg: string, fields?: LogFields) =>
    sink(`${JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...redact(fields ?? {}) })}\n`);
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
