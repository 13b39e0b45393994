import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { type CertBundle, certExpiry, createCsr, identityOfCert } from "@maro/pki";
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

/** The node's certificate for the agent channel: kept from an earlier join, or got now with the join token. */
export async function ensureNodeCertificate(options: EnrolOptions): Promise<CertBundle> {
  const keyFile = join(options.tlsDir, KEY);
  const certFile = join(options.tlsDir, CERT);
  if (existsSync(keyFile) && existsSync(certFile)) {
    const bundle = { keyPem: readFileSync(keyFile, "utf8"), certPem: readFileSync(certFile, "utf8") };
    const identity = identityOfCert(bundle.certPem);
    const fresh = certExpiry(bundle.certPem).getTime() > Date.now();
    if (identity?.kind === "node" && identity.name === options.nodeName && fresh) return bundle;
    options.log.warn("stored node certificate is not usable; joining again", { identity, fresh });
  }
  if (!options.token)
    throw new EnrolError(
      `node ${options.nodeName} has no certificate yet: give a join token in MARO_JOIN_TOKEN or --token-file (see \`maro grass node join-token ${options.cluster}\`)`,
    );
  const { csrPem, keyPem } = await createCsr({ kind: "node", name: options.nodeName });
  const res = await requestJoin(options, csrPem);
  mkdirSync(options.tlsDir, { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  writeFileSync(certFile, res.certificatePem, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  options.log.info("joined the cluster", { node: options.nodeName, master: options.master });
  return { keyPem, certPem: res.certificatePem };
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
