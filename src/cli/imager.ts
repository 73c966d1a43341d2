/** The `imager` command line: upstream-compatible flags over the build pipeline. */
export function main(argv: string[]): Promise<void> {
  void argv;
  process.stderr.write("imager: not implemented yet\n");
  process.exitCode = 3;
  return Promise.resolve();
}
