import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { JoinTokenOut, RevokeJoinTokenResponseOut } from "@maro/proto";
import type { Command } from "commander";
import { CliError, EXIT } from "../errors.js";
import { RECORD_FILES, writeSecret } from "../home.js";
import { printJson } from "../output.js";
import { type OutputOption, outputFormat, withMaster } from "./context.js";

export function registerJoinTokenCommand(node: Command): void {
  node
    .command("join-token <cluster>")
    .description("show the token a new node joins with; --rotate makes a new one, --revoke disables joining")
    .option("--rotate", "make a new token; the old one stops working")
    .option("--revoke", "revoke the token; no node can join until the next --rotate")
    .option("-o, --output <format>", "table or json", "table")
    .action(async (cluster: string, opts: OutputOption & { rotate?: boolean; revoke?: boolean }) => {
      const format = outputFormat(opts);
      if (opts.rotate && opts.revoke) throw new CliError("--rotate and --revoke exclude each other", EXIT.USAGE);
      await withMaster(cluster, async (api, record) => {
        const file = join(record.dir, RECORD_FILES.joinToken);
        if (opts.revoke) {
          const res = await api.call<object, RevokeJoinTokenResponseOut>("RevokeJoinToken", {});
          rmSync(file, { force: true });
          if (format === "json") printJson({ revoked: res.id });
          else process.stdout.write(res.id ? `join token ${res.id} revoked\n` : "there was no join token\n");
          return;
        }
        let token: string;
        if (opts.rotate || !existsSync(file)) {
          const res = await api.call<object, JoinTokenOut>("RotateJoinToken", {});
          writeSecret(file, res.token);
          token = res.token;
        } else {
          token = readFileSync(file, "utf8").trim();
        }
        if (format === "json") printJson({ token, caFile: join(record.dir, RECORD_FILES.caCert) });
        else
          process.stdout.write(
            `${token}\n\nJoin a node with:\n  MARO_JOIN_TOKEN=<token> maro-agent --master ${record.masterAddress} --cluster ${record.name} --name <node> --ca-file ${join(record.dir, RECORD_FILES.caCert)} --state-dir /var/lib/maro-agent\n`,
          );
      });
    });
}
