import { DEFAULT_DETECTOR_OPTIONS, type DetectorOptions } from "./types.js";

export class DetectorOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DetectorOptionsError";
  }
}

const PERCENTS: (keyof DetectorOptions)[] = [
  "memoryPressurePercent",
  "diskPressurePercent",
  "cpuSaturationPercent",
  "clearMarginPercent",
];

/** Fills in defaults and checks every field, naming the one that is wrong. */
export function detectorOptions(partial: Partial<DetectorOptions> = {}): DetectorOptions {
  const options: DetectorOptions = { ...DEFAULT_DETECTOR_OPTIONS };
  for (const [key, value] of Object.entries(partial) as [keyof DetectorOptions, number | undefined][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_DETECTOR_OPTIONS)) throw new DetectorOptionsError(`unknown detector option "${key}"`);
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
      throw new DetectorOptionsError(`detector option ${key}: ${String(value)} is not a number >= 0`);
    if (PERCENTS.includes(key) && value > 100)
      throw new DetectorOptionsError(`detector option ${key}: ${value} is a percentage; use 0 to 100`);
    options[key] = value;
  }
  if (options.restartLoopCount < 1 || !Number.isInteger(options.restartLoopCount))
    throw new DetectorOptionsError(
      `detector option restartLoopCount: ${options.restartLoopCount} must be a whole number >= 1`,
    );
  if (options.maxComponents < 1 || !Number.isInteger(options.maxComponents))
    throw new DetectorOptionsError(
      `detector option maxComponents: ${options.maxComponents} must be a whole number >= 1`,
    );
  return options;
}
