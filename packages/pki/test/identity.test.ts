import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { identityOfSubject, type SubjectFields } from "../src/index.js";

describe("identityOfSubject", () => {
  it("maps our three organisations to identities", () => {
    assert.deepEqual(identityOfSubject({ O: "maro:admin", CN: "admin" }), { kind: "admin", name: "admin" });
    assert.deepEqual(identityOfSubject({ O: "maro:node", CN: "gpu-01" }), { kind: "node", name: "gpu-01" });
    assert.deepEqual(identityOfSubject({ O: "maro:master", CN: "dev" }), { kind: "master", name: "dev" });
  });

  it("reads node's null-prototype subject objects", () => {
    const subject: SubjectFields = Object.assign(Object.create(null), { O: "maro:node", CN: "a", OU: "x" });
    assert.deepEqual(identityOfSubject(subject), { kind: "node", name: "a" });
  });

  it("returns null for anything that is not exactly one of ours", () => {
    const cases: Array<SubjectFields | undefined | null> = [
      undefined,
      null,
      {},
      { CN: "admin" },
      { O: "maro:admin" },
      { O: "maro:root", CN: "admin" },
      { O: "Maro:admin", CN: "admin" },
      { O: "maro:admin ", CN: "admin" },
      { O: "maro:admin", CN: "Admin" },
      { O: "maro:admin", CN: "a.b" },
      { O: "maro:admin", CN: "" },
      { O: ["maro:admin", "maro:node"], CN: "a" },
      { O: ["maro:admin"], CN: "a" },
      { O: "maro:admin", CN: ["a", "b"] },
      { O: "__proto__", CN: "a" },
      { O: "toString", CN: "a" },
    ];
    for (const subject of cases) assert.equal(identityOfSubject(subject), null, JSON.stringify(subject));
  });

  it("never throws and only ever returns a well-formed identity (property)", () => {
    const value = fc.oneof(
      fc.string(),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.constantFrom("maro:node", "maro:admin"),
    );
    fc.assert(
      fc.property(fc.record({ O: value, CN: value }, { requiredKeys: [] }), (subject) => {
        const identity = identityOfSubject(subject);
        if (identity === null) return;
        assert.ok(["admin", "node", "master"].includes(identity.kind));
        assert.match(identity.name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
        assert.equal(subject.O, `maro:${identity.kind}`);
        assert.equal(subject.CN, identity.name);
      }),
    );
  });
});
