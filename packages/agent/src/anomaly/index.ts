export { AnomalyDetector } from "./detector.js";
export { DetectorOptionsError, detectorOptions } from "./options.js";
export * from "./types.js";
