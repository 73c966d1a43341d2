/** The `image-factory` command line: the service and small offline helpers. */
export function main(argv: string[]): Promise<void> {
  void argv;
  process.stderr.write("image-factory: not implemented yet\n");
  process.exitCode = 3;
  return Promise.resolve();
}
