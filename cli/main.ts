/**
 * The `dyeline` command's entry. An agent's start-up runs without V8's optimising compilers
 * (cli/optimisers.ts): they are switched off before the program's files are loaded, and the agent
 * switches them on again once its code is.
 */
import { optimisers } from './optimisers.ts';

const codeLoaded = optimisers.hold(process.argv[2]);
const { runProgram } = await import('./program.ts');
await runProgram(codeLoaded);
