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

  /// The last value of an option as a plain decimal number (`10`, `2.5`) within `range`, or nil when the option
  /// is absent.
  ///
  /// - Throws: a usage problem for anything else (`abc`, `nan`, `inf`, `1e3`, `-1`, out of range): a typo must
  ///   not silently become the default.
  func number(_ name: String, in range: ClosedRange<Double>) throws(Problem) -> Double? {
    guard let text = value(name) else { return nil }
    let problem = Problem(
      message: "\(name) takes a number from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound)), "
        + "got '\(text)'")
    let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    // Digits only (Double() alone would also take "nan", "inf", "0x1p3" and "1e999").
    let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    guard parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isDigit) }), let number = Double(text),
      range.contains(number)
    else { throw problem }
    return number
  }

  private static func format(_ number: Double) -> String {
    number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
  }

  /// Every value of a repeatable option.
  func all(_ name: String) -> [String] { values[name] ?? [] }

  /// Whether a flag was given.
  func flag(_ name: String) -> Bool { flags.contains(name) }
}
