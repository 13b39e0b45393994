import { type CertBundle, joinSecretMatches, newJoinToken, parseJoinToken, signCsr } from "@maro/pki";
import {
  isDnsLabel,
  type JoinRequestOut,
  type JoinResponse,
  type JoinToken,
  type Logger,
  PROTOCOL_VERSION,
} from "@maro/proto";
import { MaroError } from "../errors.js";
import type { StateStore } from "../state/store.js";

const MAX_CSR_BYTES = 16 * 1024;

/** Join tokens and node enrolment: a valid token and a CSR in, a node certificate out. */
export class Enrolment {
  constructor(
    private readonly store: StateStore,
    private readonly ca: CertBundle,
    private readonly clusterName: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async rotate(): Promise<JoinToken> {
    const fresh = newJoinToken();
    const createdAtMs = this.now();
    await this.store.saveJoinToken({ id: fresh.id, secretHash: fresh.secretHash, createdAtMs });
    this.log.info("join token rotated", { tokenId: fresh.id });
    return { token: fresh.token, id: fresh.id, createdAtMs };
  }

  async revoke(): Promise<string> {
    const current = await this.store.loadJoinToken();
    await this.store.saveJoinToken(null);
    this.log.info("join token revoked", { tokenId: current?.id ?? "" });
    return current?.id ?? "";
  }

  async join(req: JoinRequestOut, peer: string): Promise<JoinResponse> {
    const refuse = (why: string, detail: string): never => {
      this.log.warn("join refused", { why, node: req.nodeName, peer });
      throw new MaroError("JOIN_REFUSED", detail);
    };
    if (req.protocolVersion !== PROTOCOL_VERSION)
      throw new MaroError(
        "PROTOCOL_MISMATCH",
        `agent speaks protocol ${req.protocolVersion} but this master speaks ${PROTOCOL_VERSION}; install the same maro version on the node and the master`,
      );
    if (req.clusterName !== this.clusterName)
      refuse("wrong cluster", `this master runs cluster "${this.clusterName}", not "${req.clusterName}"`);
    if (!isDnsLabel(req.nodeName))
      throw new MaroError("INVALID_ARGUMENT", `node name "${req.nodeName}" is not a DNS label`);
    if (req.csrPem.length > MAX_CSR_BYTES) throw new MaroError("INVALID_ARGUMENT", "csr_pem: larger than 16 KiB");
    let secret: string;
    let id: string;
    try {
      ({ id, secret } = parseJoinToken(req.token));
    } catch {
      return refuse(
        "malformed token",
        "the join token is malformed; get one with `maro grass node join-token <cluster>`",
      );
    }
    const current = await this.store.loadJoinToken();
    if (!current || current.id !== id || !joinSecretMatches(secret, current.secretHash))
      refuse(
        "unknown token",
        "the join token is not valid (revoked, rotated or mistyped); get a current one with `maro grass node join-token <cluster>`",
      );
    let certificatePem: string;
    try {
      certificatePem = await signCsr(this.ca, req.csrPem, { kind: "node", name: req.nodeName });
    } catch (err) {
      throw new MaroError("INVALID_ARGUMENT", `csr_pem: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.log.info("node joined", { node: req.nodeName, peer, tokenId: id });
    return { certificatePem, caPem: this.ca.certPem };
  }
}
