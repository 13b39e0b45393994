export { buildProgram, CLI_VERSION, run } from "./main.js";
