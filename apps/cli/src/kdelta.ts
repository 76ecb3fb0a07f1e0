// The kdelta executable.
import { processIo } from './io.js';
import { main } from './main.js';

const io = processIo();
const code = await main(process.argv.slice(2), io);
// A command cut short because stdout's reader went away may still hold timers or sockets.
if (io.stdoutClosed?.aborted === true) process.exit(code);
process.exitCode = code;
