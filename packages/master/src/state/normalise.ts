import type { ComponentRecord, ComponentSpecRecord, JobRecord, JobSpecRecord, NodeRecord } from "./records.js";

// Records written by an earlier master lack fields added since. Loading fills
// them with the values a record of that time meant, so a master upgrade keeps
// every job and node.

export function normaliseJob(raw: JobRecord): JobRecord {
  const job = raw as Partial<JobRecord> & JobRecord;
  job.attempt ??= 0;
  job.retired ??= [];
  job.explanation ??= null;
  for (const c of job.components as Array<Partial<ComponentRecord> & ComponentRecord>) c.address ??= "";
  const spec = job.spec as Partial<JobSpecRecord> & JobSpecRecord;
  spec.priority ??= 0;
  spec.schedule ??= "";
  for (const c of spec.components as Array<Partial<ComponentSpecRecord> & ComponentSpecRecord>) {
    c.constraints ??= {};
    c.spreadAcross ??= "";
  }
  return job;
}

export function normaliseNode(raw: NodeRecord): NodeRecord {
  const node = raw as Partial<NodeRecord> & NodeRecord;
  node.cordoned ??= false;
  node.labels ??= {};
  return node;
}
