// The agent's anomaly detector: fed samples and events, it returns what went
// wrong, once when it starts and once (severity info) when it clears. Pure:
// no I/O, no clock (time comes in with every event), bounded memory.

import { ComponentChecks } from "./component-checks.js";
import { NodeChecks } from "./node-checks.js";
import { detectorOptions } from "./options.js";
import type { Anomaly, DetectorEvent, DetectorOptions } from "./types.js";

export class AnomalyDetector {
  readonly options: DetectorOptions;
  private readonly node: NodeChecks;
  private readonly components: ComponentChecks;

  /** Throws a DetectorOptionsError naming a bad option. */
  constructor(options: Partial<DetectorOptions> = {}) {
    this.options = detectorOptions(options);
    this.node = new NodeChecks(this.options);
    this.components = new ComponentChecks(this.options);
  }

  observe(event: DetectorEvent): Anomaly[] {
    switch (event.kind) {
      case "sample":
        return [
          ...this.node.sample(event.timeMs, event.node),
          ...this.components.sample(event.timeMs, event.components),
        ];
      case "started":
        return this.components.started(event.timeMs, event.containerName, event);
      case "stop-requested":
        this.components.stopRequested(event.containerName);
        return [];
      case "exited":
        return this.components.exited(event.timeMs, event.containerName, event.exitCode, event.oomKilled, event);
      case "output":
        return this.components.output(event.timeMs, event.containerName, event.atMs);
      case "pong":
        return this.node.pong(event.timeMs, event.agentTimeMs, event.masterTimeMs);
    }
  }

  /** How much the detector holds, to check that it stays bounded. */
  get size(): { running: number; starts: number; conditions: number } {
    return { ...this.components.tracked, conditions: this.node.latched };
  }
}
