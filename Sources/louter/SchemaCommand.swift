import RouteSpec

/// `louter schema`: the JSON Schema of route files, generated from the keys the decoder allows.
enum SchemaCommand {
  static let usage = "louter schema"
  static let help = """
    Print the JSON Schema (draft 2020-12) of the route-file language, generated from the same
    table of keys the decoder checks, so that taplo / Even Better TOML validate and complete
    route files as louter reads them. Save it and point a `#:schema` line or .taplo.toml at it.

    Usage: \(usage)
    """

  static func run(_ rawArguments: [String]) -> Int32 {
    let arguments: Arguments
    do {
      arguments = try Arguments(rawArguments, values: [], flags: ["-h", "--help"])
    } catch {
      return CommandLineInterface.usageError(error.message, usage)
    }
    if arguments.flag("-h") || arguments.flag("--help") {
      print(help)
      return 0
    }
    guard arguments.positional.isEmpty else {
      return CommandLineInterface.usageError("schema takes no arguments", usage)
    }
    print(RouteFileShape.jsonSchema().serialized(pretty: true))
    return 0
  }
}
