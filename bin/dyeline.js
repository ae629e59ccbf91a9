#!/usr/bin/env node
// Entry point of the `dyeline` command. Sources are TypeScript run directly by Node 24's type
// stripping (erasable syntax only), so there is no build step between a checkout and a run.
import '../cli/main.ts';
