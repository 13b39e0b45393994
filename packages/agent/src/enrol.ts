import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import type { CertBundle } from "@maro/pki";
import {
  type JoinResponseOut,
  type Logger,
  loadMaroProto,
  MASTER_CHANNEL_OPTIONS,
  PROTOCOL_VERSION,
} from "@maro/proto";

export interface EnrolOptions {
  master: string;
  cluster: string;
  nodeName: string;
  caPem: string;
  /** Where node.key and node.crt live (0600). */
  tlsDir: string;
  /** A join token, needed only while the node has no certificate. */
  token?: string;
  log: Logger;
}

export class EnrolError extends Error {}

const KEY = "node.key";
const CERT = "node.crt";

/**
 * Whether a stored certificate is this node's and still valid. Read with
 * node:crypto so a node that has joined never loads @maro/pki (its X.509
 * library costs ~10 MB of memory); the subject encoding is the one @maro/pki
 * issues: O = "maro:node", CN = the node's name.
 */
function storedCertUsable(certPem: string, certFile: string, nodeName: string): { usable: boolean; why: string } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new Error(`${certFile}: not a valid X.509 certificate; remove it (and node.key) and join again with a token`);
  }
  const subject = cert.toLegacyObject().subject as Record<string, string | string[] | undefined>;
  if (subject.O !== "maro:node" || subject.CN !== nodeName)
    return { usable: false, why: `it is for ${String(subject.O)} ${String(subject.CN)}, not maro:node ${nodeName}` };
  if (!(Date.parse(cert.validTo) > Date.now())) return { usable: false, why: `it expired ${cert.validTo}` };
  return { usable: true, why: "" };
}

/** The node's certificate for the agent channel: kept from an earlier join, or got now with the join token. */
export async function ensureNodeCertificate(options: EnrolOptions): Promise<CertBundle> {
  const keyFile = join(options.tlsDir, KEY);
  const certFile = join(options.tlsDir, CERT);
  if (existsSync(keyFile) && existsSync(certFile)) {
    const bundle = { keyPem: readFileSync(keyFile, "utf8"), certPem: readFileSync(certFile, "utf8") };
    const { usable, why } = storedCertUsable(bundle.certPem, certFile, options.nodeName);
    if (usable) return bundle;
    options.log.warn("stored node certificate is not usable; joining again", { reason: why });
  }
  if (!options.token)
    throw new EnrolError(
      `node ${options.nodeName} has no certificate yet: give a join token in MARO_JOIN_TOKEN or --token-file (see \`maro grass node join-token ${options.cluster}\`)`,
    );
  const { csrPem, keyPem } = await createNodeCsr(options.nodeName);
  const res = await requestJoin(options, csrPem);
  mkdirSync(options.tlsDir, { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  writeFileSync(certFile, res.certificatePem, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  options.log.info("joined the cluster", { node: options.nodeName, master: options.master });
  return { keyPem, certPem: res.certificatePem };
}

/**
 * The node's new key and CSR, made by @maro/pki in a short-lived child node
 * process: the X.509 library it loads (~13 MB that a module cache never gives
 * back) stays out of the long-running agent. The key comes back over a pipe.
 */
function createNodeCsr(nodeName: string): Promise<{ csrPem: string; keyPem: string }> {
  const pki = import.meta.resolve("@maro/pki");
  const code = `const { createCsr } = await import(${JSON.stringify(pki)});
try {
  process.stdout.write(JSON.stringify(await createCsr({ kind: "node", name: ${JSON.stringify(nodeName)} })));
} catch (err) {
  process.stderr.write(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
}`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", code],
      { timeout: 60_000, maxBuffer: 1 << 20, env: withoutToken(process.env) },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(stderr.trim() || `making the node's CSR failed: ${err.message}`));
        let out: { csrPem?: unknown; keyPem?: unknown } = {};
        try {
          out = JSON.parse(stdout) as typeof out;
        } catch {
          // Checked below.
        }
        if (typeof out.csrPem === "string" && typeof out.keyPem === "string")
          resolve({ csrPem: out.csrPem, keyPem: out.keyPem });
        else reject(new Error("making the node's CSR failed: the helper process gave no key and CSR"));
      },
    );
  });
}

function withoutToken(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.MARO_JOIN_TOKEN;
  return copy;
}

function requestJoin(options: EnrolOptions, csrPem: string): Promise<JoinResponseOut> {
  const proto = loadMaroProto();
  // TLS that verifies the master against the cluster CA; no client certificate yet.
  const client = new proto.maro.v1.AgentChannel(options.master, credentials.createSsl(Buffer.from(options.caPem)), {
    ...MASTER_CHANNEL_OPTIONS,
  });
  return new Promise<JoinResponseOut>((resolve, reject) => {
    client.Join(
      {
        protocolVersion: PROTOCOL_VERSION,
        clusterName: options.cluster,
        nodeName: options.nodeName,
        token: options.token ?? "",
        csrPem,
      },
      { deadline: new Date(Date.now() + 15_000) },
      (err: ServiceError | null, res?: JoinResponseOut) => {
        client.close();
        if (err || !res) reject(new EnrolError(`joining ${options.master} failed: ${err?.details ?? "no answer"}`));
        else resolve(res);
      },
    );
  });
}
