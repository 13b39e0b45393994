// The single entry to @peculiar/x509. Its dependency tsyringe throws at import time unless a Reflect metadata
// polyfill is loaded first, so load it here, before the library (ES modules evaluate imports in source order).
// Every other file imports @peculiar/x509 through this one.

import "reflect-metadata";

export * from "@peculiar/x509";
