import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ServiceError } from "@grpc/grpc-js";
import { type RunningMaster, startMaster } from "@maro/master";
import { identityOfCert } from "@maro/pki";
import { type JoinTokenOut, loadMaroProto, silentLogger } from "@maro/proto";
import { EnrolError, ensureNodeCertificate } from "../../packages/agent/src/enrol.js";
import { testMasterOptions } from "../support/master.js";
import { makeTestPki, type TestPki } from "../support/pki.js";
import { tempDir } from "../support/tmp.js";

const CLUSTER = "enrol";

describe("agent enrolment against a real master", () => {
  const dir = tempDir("enrol");
  let pki: TestPki;
  let master: RunningMaster;

  const rotate = () =>
    new Promise<JoinTokenOut>((resolve, reject) => {
      const client = new (loadMaroProto().maro.v1.Master)(master.address, pki.creds(pki.admin));
      client.RotateJoinToken({}, (err: ServiceError | null, res?: JoinTokenOut) => {
        client.close();
        if (err || !res) reject(err);
        else resolve(res);
      });
    });
  const enrol = (nodeName: string, tlsDir: string, token?: string) =>
    ensureNodeCertificate({
      master: master.address,
      cluster: CLUSTER,
      nodeName,
      caPem: pki.ca.certPem,
      tlsDir,
      log: silentLogger,
      ...(token ? { token } : {}),
    });

  before(async () => {
    pki = await makeTestPki(dir.path, CLUSTER);
    master = await startMaster(
      testMasterOptions(CLUSTER, join(dir.path, "master"), pki.tlsDir, {
        heartbeatIntervalMs: 500,
        heartbeatTtlMs: 2000,
      }),
    );
  });

  after(async () => {
    await master.stop();
    dir.remove();
  });

  test("joins once with the token, keeps its key private, and restarts without a token", async () => {
    const tlsDir = join(dir.path, "node-1-tls");
    const token = await rotate();
    const first = await enrol("node-1", tlsDir, token.token);
    assert.deepEqual(identityOfCert(first.certPem), { kind: "node", name: "node-1" });
    assert.equal(statSync(join(tlsDir, "node.key")).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(tlsDir, "node.key"), "utf8"), first.keyPem);
    await rotate(); // the old token is gone, yet a restart needs none
    const again = await enrol("node-1", tlsDir);
    assert.equal(again.certPem, first.certPem);
  });

  test("without a certificate or a token the agent says what to do", async () => {
    await assert.rejects(enrol("node-2", join(dir.path, "node-2-tls")), (err: unknown) => {
      assert.ok(err instanceof EnrolError);
      assert.match(err.message, /MARO_JOIN_TOKEN/);
      return true;
    });
  });

  test("a revoked token cannot join", async () => {
    const token = await rotate();
    await new Promise<void>((resolve, reject) => {
      const client = new (loadMaroProto().maro.v1.Master)(master.address, pki.creds(pki.admin));
      client.RevokeJoinToken({}, (err: ServiceError | null) => {
        client.close();
        if (err) reject(err);
        else resolve();
      });
    });
    await assert.rejects(enrol("node-3", join(dir.path, "node-3-tls"), token.token), /not valid/);
  });

  test("a stored certificate for another name is not used; the node joins again", async () => {
    const tlsDir = join(dir.path, "shared-tls");
    const token = await rotate();
    await enrol("node-4", tlsDir, token.token);
    const renamed = await enrol("node-5", tlsDir, token.token);
    assert.deepEqual(identityOfCert(renamed.certPem), { kind: "node", name: "node-5" });
  });
});
