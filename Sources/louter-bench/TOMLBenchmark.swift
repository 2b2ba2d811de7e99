/// Parses a generated route-like TOML file and reports MB/s. (Stub.)
enum TOMLBenchmark {
  static func run(_ arguments: [String]) throws {}
}
