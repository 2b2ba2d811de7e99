import RouteSpec

/// A hand-written argument scanner: louter uses no packages.
struct Arguments {
  /// Options that take a value, by name (`--format`).
  let valueOptions: Set<String>
  /// Options that are flags.
  let flagOptions: Set<String>
  private(set) var values: [String: [String]] = [:]
  private(set) var flags: Set<String> = []
  private(set) var positional: [String] = []

  /// A usage problem, printed as `Error: ...`.
  struct Problem: Error {
    let message: String
  }

  init(_ arguments: [String], values: Set<String>, flags: Set<String>) throws(Problem) {
    valueOptions = values
    flagOptions = flags
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      index += 1
      if argument == "--" {
        positional += arguments[index...]
        break
      }
      guard argument.hasPrefix("-"), argument.count > 1 else {
        positional.append(argument)
        continue
      }
      var name = argument
      var inlineValue: String?
      if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
        name = String(argument[..<equals])
        inlineValue = String(argument[argument.index(after: equals)...])
      }
      if valueOptions.contains(name) {
        if let inlineValue {
          self.values[name, default: []].append(inlineValue)
        } else {
          guard index < arguments.count else { throw Problem(message: "missing value for '\(name)'") }
          self.values[name, default: []].append(arguments[index])
          index += 1
        }
      } else if flagOptions.contains(name), inlineValue == nil {
        self.flags.insert(name)
      } else {
        let known = Array(valueOptions) + Array(flagOptions)
        let hint = Suggestion.closest(to: name, in: known).map { " (did you mean '\($0)'?)" } ?? ""
        throw Problem(message: "unknown option '\(name)'\(hint)")
      }
    }
  }

  /// The last value of an option.
  func value(_ name: String) -> String? { values[name]?.last }

  /// Every value of a repeatable option.
  func all(_ name: String) -> [String] { values[name] ?? [] }

  /// Whether a flag was given.
  func flag(_ name: String) -> Bool { flags.contains(name) }
}
