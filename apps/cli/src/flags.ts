/**
 * Flags that may be given more than once, and the refusal of the others: a flag given
 * twice is a usage error, never silently its last value.
 */
import { Option, type Command } from 'commander';

const repeatables = new WeakSet<Option>();

/** Every value of a repeatable flag, in the order given. */
export function collect(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * A flag that may be repeated: each value is kept (`collect` by default). Add it with
 * `cmd.addOption(...)`.
 */
export function repeatableOption(flags: string, description: string, parse: (value: string, previous: string[] | undefined) => string[] = collect): Option {
  const option = new Option(flags, description).argParser(parse);
  repeatables.add(option);
  return option;
}

/** How a flag is spelled in messages: `--limit (-l)`. */
export function spelling(option: Option): string {
  return option.long !== undefined && option.short !== undefined ? `${option.long} (${option.short})` : (option.long ?? option.short ?? option.flags);
}

/**
 * Makes `cmd` refuse any of its flags given twice, except those made with
 * {@link repeatableOption}, variadic ones and those collecting into a list default.
 * Exit code 2, one line: `--limit (-l) given twice: it takes one value`.
 */
export function refuseRepeats(cmd: Command): void {
  for (const option of cmd.options) {
    if (repeatables.has(option) || option.variadic || Array.isArray(option.defaultValue) || option.long === '--version') continue;
    let seen = 0;
    cmd.on(`option:${option.name()}`, () => {
      if (++seen < 2) return;
      const what = option.required || option.optional ? 'it takes one value' : 'once is enough';
      cmd.error(`${spelling(option)} given twice: ${what}`, { exitCode: 2, code: 'kdelta.repeatedOption' });
    });
  }
}
