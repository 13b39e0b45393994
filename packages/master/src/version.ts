export const MASTER_VERSION = "0.1.0";
