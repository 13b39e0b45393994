export {
  atomicWriteTarget,
  type ConfineOptions,
  confine,
  isAtomicWriteTemp,
  PathError,
  type PathRule,
  resolveConfined,
} from "./paths.js";
export {
  type RunningSmbd,
  renderSmbConf,
  type SmbConfParams,
  type SmbdLayout,
  type SmbdOptions,
  smbdLayout,
  startSmbd,
} from "./smbd.js";
