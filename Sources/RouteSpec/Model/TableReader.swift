/// Reads the keys of one TOML table into typed, spanned values, recording every problem.
///
/// Each accessor marks its key as known; `finish` reports the keys nobody asked for as
/// unknown, with a "did you mean" among the known ones.
struct TableReader {
  let table: TOMLTable
  /// How messages name this table: `[server]`, `[backends.openai]`, `match`.
  let context: String
  /// The keys this table allows, declared in `RouteFileShape`: `finish` reports every other key.
  let shape: TableShape
  private(set) var known: [String] = []
  private var diagnostics: [Diagnostic]

  init(_ table: TOMLTable, context: String, shape: TableShape) {
    self.table = table
    self.context = context
    self.shape = shape
    self.diagnostics = []
  }

  /// The entry for `key`, marking it as known.
  mutating func entry(_ key: String) -> TOMLTable.Entry? {
    // A key the decoder reads must be declared, or the schema would reject what the decoder accepts.
    assert(shape.names.contains(key), "'\(key)' in \(context) is read but not declared in RouteFileShape")
    known.append(key)
    return table.entry(key)
  }

  mutating func report(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }

  mutating func wrongType(_ key: String, expected: String, found value: TOMLValue) {
    report(
      Diagnostic(
        .wrongType, "expected \(expected) for '\(key)' in \(context), found \(value.typeName)",
        at: Label(value.span, "this is \(article(value.typeName)) \(value.typeName)")))
  }

  private func article(_ word: String) -> String {
    guard let first = word.first else { return "a" }
    return "aeiou".contains(first) ? "an" : "a"
  }

  mutating func string(_ key: String, allowEmpty: Bool = false) -> Spanned<String>? {
    guard let entry = entry(key) else { return nil }
    guard case .string(let text) = entry.value.kind else {
      wrongType(key, expected: "a string", found: entry.value)
      return nil
    }
    if text.isEmpty, !allowEmpty {
      report(Diagnostic(.emptyValue, "'\(key)' in \(context) must not be empty", at: Label(entry.value.span)))
      return nil
    }
    return Spanned(text, entry.value.span)
  }

  mutating func bool(_ key: String) -> Spanned<Bool>? {
    guard let entry = entry(key) else { return nil }
    guard case .boolean(let flag) = entry.value.kind else {
      wrongType(key, expected: "true or false", found: entry.value)
      return nil
    }
    return Spanned(flag, entry.value.span)
  }

  mutating func integer(_ key: String) -> Spanned<Int>? {
    guard let entry = entry(key) else { return nil }
    guard case .integer(let number) = entry.value.kind else {
      wrongType(key, expected: "an integer", found: entry.value)
      return nil
    }
    return Spanned(Int(number), entry.value.span)
  }

  mutating func table(_ key: String) -> (table: TOMLTable, span: SourceSpan)? {
    guard let entry = entry(key) else { return nil }
    guard case .table(let table) = entry.value.kind else {
      wrongType(key, expected: "a table", found: entry.value)
      return nil
    }
    return (table, entry.value.span)
  }

  /// A string or a list of strings (`model = "a"` or `model = ["a", "b"]`).
  ///
  /// With `requireItems`, an empty list is an error: in `match` a list means "any of these", and
  /// an empty one would silently drop the condition instead of matching nothing.
  mutating func strings(_ key: String, requireItems: Bool = false) -> Spanned<[Spanned<String>]>? {
    guard let entry = entry(key) else { return nil }
    switch entry.value.kind {
    case .string(let text):
      if text.isEmpty {
        report(Diagnostic(.emptyValue, "'\(key)' in \(context) must not be empty", at: Label(entry.value.span)))
        return nil
      }
      return Spanned([Spanned(text, entry.value.span)], entry.value.span)
    case .array(let values):
      var items: [Spanned<String>] = []
      for value in values {
        guard case .string(let text) = value.kind else {
          wrongType(key, expected: "a list of strings", found: value)
          continue
        }
        if text.isEmpty {
          report(Diagnostic(.emptyValue, "'\(key)' in \(context) holds an empty string", at: Label(value.span)))
          continue
        }
        items.append(Spanned(text, value.span))
      }
      if values.isEmpty, requireItems {
        report(
          Diagnostic(
            .emptyValue, "'\(key)' in \(context) must not be an empty list", at: Label(entry.value.span),
            help: "leave '\(key)' out to accept any value, or list at least one"))
        return nil
      }
      return Spanned(items, entry.value.span)
    default:
      wrongType(key, expected: "a string or a list of strings", found: entry.value)
      return nil
    }
  }

  /// One of an enumeration's raw values.
  mutating func choice<T: RawRepresentable & CaseIterable & Sendable>(_ key: String, _ type: T.Type) -> Spanned<T>?
  where T.RawValue == String {
    guard let text = string(key) else { return nil }
    return Self.choice(text, key: key, type, reader: &self)
  }

  static func choice<T: RawRepresentable & CaseIterable & Sendable>(
    _ text: Spanned<String>, key: String, _ type: T.Type, reader: inout TableReader
  ) -> Spanned<T>? where T.RawValue == String {
    if let value = T(rawValue: text.value) { return Spanned(value, text.span) }
    reader.report(
      Diagnostic(
        .invalidValue, "invalid \(key) '\(text.value)'", at: Label(text.span, "not one of the allowed values"),
        help: choiceHelp(for: text.value, in: T.allCases.map(\.rawValue))))
    return nil
  }

  /// `did you mean 'echo'? use one of: openai, gemini, echo`, or only the list when nothing is close.
  static func choiceHelp(for value: String, in allowed: [String]) -> String {
    let list = "use one of: " + allowed.joined(separator: ", ")
    return Suggestion.help(for: value, in: allowed).map { "\($0) \(list)" } ?? list
  }

  /// Reports unknown keys and returns every diagnostic.
  mutating func finish() -> [Diagnostic] {
    // A declared key the decoder never reads would pass both the schema and this check, then be ignored.
    assert(Set(known) == Set(shape.names), "\(context) reads \(known), RouteFileShape declares \(shape.names)")
    let allowed = shape.names
    for entry in table.entries where !allowed.contains(entry.key) {
      report(
        Diagnostic(
          .unknownKey, "unknown key '\(entry.key)' in \(context)", at: Label(entry.keySpan, "not part of \(context)"),
          help: Suggestion.help(for: entry.key, in: allowed) ?? "known keys: \(allowed.joined(separator: ", "))"))
    }
    return diagnostics
  }
}
