import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { joinSecretMatches, newJoinToken, PkiError, parseJoinToken } from "../src/index.js";

const HINT = "not a maro join token; get one with `maro grass node join-token <cluster>`";

describe("join tokens", () => {
  it("look like maro1.<8 lowercase alnum>.<32 bytes base64url>", () => {
    const { token, id, secretHash } = newJoinToken();
    assert.match(token, /^maro1\.[a-z0-9]{8}\.[A-Za-z0-9_-]{43}$/);
    assert.match(id, /^[a-z0-9]{8}$/);
    const parsed = parseJoinToken(token);
    assert.equal(parsed.id, id);
    assert.equal(Buffer.from(parsed.secret, "base64url").length, 32);
    assert.equal(secretHash, createHash("sha256").update(parsed.secret).digest("hex"));
    assert.ok(!token.includes(secretHash), "the stored hash is not part of the token");
  });

  it("are all different", () => {
    const tokens = Array.from({ length: 200 }, () => newJoinToken());
    assert.equal(new Set(tokens.map((t) => t.token)).size, 200);
    assert.equal(new Set(tokens.map((t) => t.id)).size, 200);
  });

  it("parse with surrounding whitespace (pasted, or read from a file)", () => {
    const { token, id } = newJoinToken();
    assert.equal(parseJoinToken(`  ${token}\n`).id, id);
  });

  it("refuse anything else with PkiError and a hint, never echoing the input", () => {
    const { token } = newJoinToken();
    const [, id = "", secret = ""] = token.split(".");
    const bad = [
      "",
      "maro1",
      `maro2.${id}.${secret}`,
      `MARO1.${id}.${secret}`,
      `maro1.A${id.slice(1)}.${secret}`,
      `maro1.${id.slice(1)}.${secret}`,
      `maro1.${id}x.${secret}`,
      `maro1.${id}.${secret.slice(1)}`,
      `maro1.${id}.${secret}A`,
      `maro1.${id}.${secret.slice(0, 42)}+`,
      `maro1.${id}.${secret.slice(0, 42)}=`,
      `maro1.${id}.${secret.slice(0, 42)}B`, // 43rd character with non-zero spare bits: not canonical
      `maro1.${id}.${secret}.x`,
      `maro1 .${id}.${secret}`,
      `${token}\u0000`,
      "K10abc::server:secret",
      token.repeat(100),
    ];
    for (const input of bad) {
      assert.throws(
        () => parseJoinToken(input),
        (err: unknown) => err instanceof PkiError && err.message === HINT && !err.message.includes(secret),
        JSON.stringify(input.slice(0, 80)),
      );
    }
    assert.throws(() => parseJoinToken(undefined as unknown as string), PkiError);
  });

  it("match their stored hash, and nothing else", () => {
    const a = newJoinToken();
    const b = newJoinToken();
    const secretA = parseJoinToken(a.token).secret;
    assert.equal(joinSecretMatches(secretA, a.secretHash), true);
    assert.equal(joinSecretMatches(secretA, a.secretHash.toUpperCase()), true);
    assert.equal(joinSecretMatches(secretA, b.secretHash), false);
    assert.equal(joinSecretMatches(parseJoinToken(b.token).secret, a.secretHash), false);
    assert.equal(joinSecretMatches(a.token, a.secretHash), false, "the whole token is not the secret");
    assert.equal(joinSecretMatches(secretA, ""), false);
    assert.equal(joinSecretMatches(secretA, a.secretHash.slice(2)), false);
    assert.equal(joinSecretMatches(secretA, `${a.secretHash}00`), false);
    assert.equal(joinSecretMatches(secretA, "z".repeat(64)), false);
  });

  it("parseJoinToken throws nothing but PkiError, on any string (property)", () => {
    const { token } = newJoinToken();
    const nearToken = fc
      .tuple(fc.nat({ max: token.length }), fc.string({ maxLength: 3 }), fc.nat({ max: 3 }))
      .map(([at, insert, drop]) => token.slice(0, at) + insert + token.slice(at + drop));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), nearToken), (input) => {
        try {
          const parsed = parseJoinToken(input);
          assert.match(parsed.id, /^[a-z0-9]{8}$/);
          assert.equal(Buffer.from(parsed.secret, "base64url").length, 32);
        } catch (err) {
          assert.ok(err instanceof PkiError, String(err));
          assert.equal(err.message, HINT);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("joinSecretMatches never throws (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f]{64}$/)), (secret, hash) => {
        assert.equal(typeof joinSecretMatches(secret, hash), "boolean");
      }),
    );
  });
});
