import Foundation

// Benchmarks are release-build programs, never timed unit tests.
// Each suite lives in its own file and reads its own flags.
let arguments = Array(CommandLine.arguments.dropFirst())
let suites: [String: ([String]) throws -> Void] = [
  "toml": TOMLBenchmark.run,
  "routes": RouteTableBenchmark.run,
  "gateway": GatewayBenchmark.run,
  "streams": StreamsBenchmark.run,
  "translate": TranslateBenchmark.run,
]
guard let name = arguments.first, let suite = suites[name] else {
  let names = suites.keys.sorted().joined(separator: "|")
  FileHandle.standardError.write(Data("usage: louter-bench <\(names)> [options]\n".utf8))
  exit(64)
}
do {
  try suite(Array(arguments.dropFirst()))
} catch {
  FileHandle.standardError.write(Data("louter-bench: \(error)\n".utf8))
  exit(1)
}
