// The commented example files `maro grass template <dir>` writes. Plain text so
// the comments survive; template.test.ts checks both validate.

export const DEPLOYMENT_TEMPLATE = `# A local Grass cluster: a master and its agents, all on this machine.
# Create it with:  maro grass create deployment.yml
# Delete it with:  maro grass delete demo

# Required. The only mode this version supports; grass/azure, grass/on-premises
# and k8s/aks are not supported yet.
mode: grass/local

# Required. The cluster's name: a DNS label (lowercase letters, digits and '-',
# at most 63 characters). Other commands take it: maro grass status demo
name: demo

# How components run: "process" (a child process per component, the default;
# needs nothing else) or "docker" (a container per component through the
# Docker Engine; every component then needs an image).
runtime: process

# The agents to start: a number (1 to 64) names them node-1, node-2, ...
# Or list them, each with the resources it offers to jobs:
#   cpu:    all, cores (2, 0.5) or millicores (500m)
#   memory: all, MARO's MiB (2048m) or a Kubernetes quantity (2Gi, 512Mi, 1G)
#   gpu:    all or a count
# Omitted resources default to all. Local nodes share this machine, so
# offering "all" on several of them lets jobs ask for more than it has.
nodes:
  - name: node-1
    resources: {cpu: 1, memory: 1Gi, gpu: all}
  - name: node-2
    resources: {cpu: 1, memory: 1Gi, gpu: all}

# Optional. Ports the master listens on; 0 (the default) picks any free port.
master:
  api_server:
    port: 0     # the gRPC API that maro and the agents call
  redis:
    port: 0     # the cluster's Redis: state, and peer discovery for components

# Optional, for runtime: docker. The Docker Engine to use; without it,
# DOCKER_HOST or /var/run/docker.sock.
# docker:
#   socket: /var/run/docker.sock
`;

export const JOB_TEMPLATE = `# A distributed job: one learner and two actors. Start it with:
#   maro grass job start demo job.yml --wait
# Field names are MARO's, so MARO job files work here too.

# Optional. Accepted for MARO compatibility: grass/local, grass/azure or
# grass/on-premises.
mode: grass/local

# Required. The job's name: a DNS label, unique among the cluster's jobs.
name: hello

# Optional, default 0. Pending jobs are placed highest priority first; equal
# priorities keep submission order. A whole number (may be negative).
priority: 0

# Optional; these are the defaults. How replicas are placed on nodes:
#   mode:   single-metric-balanced (the node with the most free metric),
#           single-metric-compacted (the node with the least free that fits),
#           binpack (fill the fullest node, weighing cpu, memory and gpu) or
#           spread (the emptiest node, weighing cpu, memory and gpu)
#   metric: cpu, memory or gpu; only for the single-metric modes (binpack and
#           spread take no metric)
# A job is placed whole or not at all; until it fits it stays pending.
allocation:
  mode: single-metric-balanced
  metric: cpu

# Required. Component type (a DNS label) -> its settings. Every replica gets
# MARO's environment (CLUSTER_NAME, JOB_NAME, COMPONENT_TYPE, COMPONENT_INDEX,
# CONTAINER_NAME, ...) and REDIS_HOST, REDIS_PORT, REDIS_PASSWORD to find its peers.
components:
  learner:
    # The image to run; required with runtime: docker, ignored by runtime: process.
    image: maro/busybox:test
    # Resources of one replica. cpu: cores (1, 0.5) or millicores (500m).
    # memory: MARO's MiB (256m) or a Kubernetes quantity (512Mi, 1Gi, 1G);
    # a bare number is bytes. gpu: a count, default 0.
    resources:
      cpu: 0.5
      memory: 128m
      gpu: 0
    # Replicas of this component (1 to 1000), default 1.
    num: 1
    # Optional. Where the cluster's shared data directory appears inside the
    # component: an absolute path, e.g.
    # mount:
    #   target: /mnt/data
    # What to run. A string runs under sh -c; a list runs as argv, e.g.
    # [python, learner.py]. Required with runtime: process; with docker it
    # defaults to the image's command.
    command: "echo learner $COMPONENT_INDEX of job $JOB_NAME"
    # Optional. Node labels the replica's node must carry (an agent's
    # --label key=value), e.g.
    # constraints:
    #   gpu_model: A100
    #   example.com/rack: r12

  actor:
    image: maro/busybox:test
    resources:
      cpu: 0.5
      memory: 128m
      gpu: 0
    num: 2
    command: ["sh", "-c", "echo actor $COMPONENT_INDEX of job $JOB_NAME"]
    # Optional. "node": no two replicas of this component on one node (the job
    # stays pending while too few nodes can take one each).
    # spread_across: node
`;

export const SCHEDULE_TEMPLATE = `# A schedule: several jobs with the same components, started together (all or
# none) and stopped together. Start and stop it with:
#   maro grass schedule start demo schedule.yml
#   maro grass schedule stop demo sweep
# Field names are MARO's, so MARO schedule files work here too.

# Optional. Accepted for MARO compatibility: grass/local, grass/azure or
# grass/on-premises.
mode: grass/local

# Required. The schedule's name: a DNS label. \`schedule stop\` takes it.
name: sweep

# Required. One job per name (DNS labels, unique among the cluster's jobs;
# at most 1000). Each runs the components below.
job_names:
  - sweep-1
  - sweep-2

# Optional, as in a job file: priority and allocation apply to every job.
priority: 0
allocation:
  mode: single-metric-balanced
  metric: cpu

# Required, as in a job file (see job.yml for every field).
components:
  learner:
    image: maro/busybox:test
    resources:
      cpu: 0.5
      memory: 128m
      gpu: 0
    num: 1
    command: "echo learner of $JOB_NAME"
`;
