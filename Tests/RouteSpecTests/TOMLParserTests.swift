import Testing

@testable import RouteSpec

@Suite struct TOMLParserTests {
  typealias T = TOMLTestSupport

  // MARK: Keys

  @Test func bareQuotedAndDottedKeys() {
    let table = T.parse(
      """
      bare_key-1 = 1
      "quoted key" = 2
      'literal "key"' = 3
      a . b . "c" = 4
      "" = 5
      1234 = 6
      """)
    #expect(table.entries.map(\.key) == ["bare_key-1", "quoted key", "literal \"key\"", "a", "", "1234"])
    guard case .table(let a)? = table["a"]?.kind, case .table(let b)? = a["b"]?.kind else {
      Issue.record("a.b is not a table")
      return
    }
    #expect(a.origin == .dotted)
    guard case .integer(4)? = b["c"]?.kind else {
      Issue.record("a.b.c is not 4")
      return
    }
  }

  @Test func keySpansPointAtTheLastSegment() {
    let text = "a.\"b\" = 1\n"
    let table = T.parse(text)
    guard case .table(let a)? = table["a"]?.kind, let entry = a.entry("b") else {
      Issue.record("missing a.b")
      return
    }
    #expect(T.file(text).text(of: entry.keySpan) == "\"b\"")
    #expect(T.file(text).text(of: entry.value.span) == "1")
  }

  @Test func keysAreComparedByBytes() {
    // Precomposed and decomposed é are different TOML keys.
    let table = T.parse("\"\u{E9}\" = 1\n\"e\u{301}\" = 2\n")
    #expect(table.entries.count == 2)
  }

  // MARK: Strings

  @Test func basicStringEscapes() {
    #expect(T.json(#"s = "a\b\t\n\f\r\"\\z""#) == #"{"s":{"type":"string","value":"a\b\t\n\f\r\"\\z"}}"#)
    #expect(T.json(#"s = "\u00E9\U0001F600""#) == #"{"s":{"type":"string","value":"é😀"}}"#)
    #expect(T.json("s = \"tab\there\"") == #"{"s":{"type":"string","value":"tab\there"}}"#)
  }

  @Test func literalStringsKeepBackslashes() {
    #expect(T.json(#"s = 'C:\Users\n'"#) == #"{"s":{"type":"string","value":"C:\\Users\\n"}}"#)
  }

  @Test func multilineBasicStrings() {
    #expect(T.json("s = \"\"\"\nline1\nline2\"\"\"") == #"{"s":{"type":"string","value":"line1\nline2"}}"#)
    #expect(T.json("s = \"\"\"\r\na\r\nb\"\"\"") == #"{"s":{"type":"string","value":"a\nb"}}"#)
    #expect(
      T.json("s = \"\"\"one \\\n    two \\\n\n   three\"\"\"") == #"{"s":{"type":"string","value":"one two three"}}"#)
    #expect(T.json("s = \"\"\"a \\  \n b\"\"\"") == #"{"s":{"type":"string","value":"a b"}}"#)
    #expect(T.json("s = \"\"\"\"\"quoted\"\"\"\"\"") == #"{"s":{"type":"string","value":"\"\"quoted\"\""}}"#)
  }

  @Test func multilineLiteralStrings() {
    #expect(T.json("s = '''\nraw \\n\n'''") == #"{"s":{"type":"string","value":"raw \\n\n"}}"#)
    #expect(T.json("s = ''''one'''") == #"{"s":{"type":"string","value":"'one"}}"#)
  }

  @Test func stringSpanIncludesQuotes() {
    let text = "s = \"a\\tb\"\n"
    let value = T.parse(text)["s"]
    #expect(value.map { T.file(text).text(of: $0.span) } == "\"a\\tb\"")
  }

  // MARK: Numbers

  @Test func integers() {
    let table = T.parse(
      """
      a = +99
      b = -17
      c = 1_000
      d = 0xDEAD_beef
      e = 0o755
      f = 0b1101
      g = 9223372036854775807
      h = -9223372036854775808
      i = -0
      """)
    let values = table.entries.compactMap { entry -> Int64? in
      if case .integer(let number) = entry.value.kind { return number }
      return nil
    }
    #expect(values == [99, -17, 1000, 0xDEAD_BEEF, 0o755, 0b1101, Int64.max, Int64.min, 0])
  }

  @Test func floats() {
    let table = T.parse(
      """
      a = 1.0
      b = -3.1415
      c = 5e+22
      d = 6.626e-34
      e = 224_617.445_991_228
      f = -0.0
      g = inf
      h = -inf
      i = nan
      j = 1e400
      k = 0.1000000000000000055511151231257827
      """)
    let values = table.entries.compactMap { entry -> Double? in
      if case .float(let number) = entry.value.kind { return number }
      return nil
    }
    #expect(values.count == 11)
    #expect(values[0] == 1.0 && values[1] == -3.1415 && values[2] == 5e22 && values[3] == 6.626e-34)
    #expect(values[4] == 224617.445991228)
    #expect(values[5] == 0 && values[5].sign == .minus)
    #expect(values[6] == .infinity && values[7] == -.infinity && values[8].isNaN)
    #expect(values[9] == .infinity)
    #expect(values[10] == 0.1)
    #expect(
      T.json("a = -inf\nb = nan\nc = 0.5")
        == #"{"a":{"type":"float","value":"-inf"},"b":{"type":"float","value":"nan"},"c":{"type":"float","value":"0.5"}}"#
    )
  }

  @Test func booleans() {
    #expect(
      T.json("t = true\nf = false") == #"{"t":{"type":"bool","value":"true"},"f":{"type":"bool","value":"false"}}"#)
  }

  // MARK: Dates and times

  @Test func dateTimes() {
    #expect(T.json("a = 1979-05-27T07:32:00Z") == #"{"a":{"type":"datetime","value":"1979-05-27T07:32:00Z"}}"#)
    #expect(
      T.json("a = 1979-05-27 00:32:00.999999-07:00")
        == #"{"a":{"type":"datetime","value":"1979-05-27T00:32:00.999999-07:00"}}"#)
    #expect(T.json("a = 1979-05-27t07:32:00") == #"{"a":{"type":"datetime-local","value":"1979-05-27T07:32:00"}}"#)
    #expect(T.json("a = 1979-05-27") == #"{"a":{"type":"date-local","value":"1979-05-27"}}"#)
    #expect(T.json("a = 07:32:00.500") == #"{"a":{"type":"time-local","value":"07:32:00.500"}}"#)
    #expect(T.json("a = 2000-02-29") == #"{"a":{"type":"date-local","value":"2000-02-29"}}"#)
    #expect(T.json("a = 00:00:00.1234567891") == #"{"a":{"type":"time-local","value":"00:00:00.123456789"}}"#)
  }

  @Test func dateTimeComponents() {
    guard case .dateTime(let value)? = T.parse("a = 2024-02-29T23:59:59.25+05:30")["a"]?.kind else {
      Issue.record("not a date-time")
      return
    }
    #expect(value.form == .offsetDateTime)
    #expect([value.year, value.month, value.day, value.hour, value.minute, value.second] == [2024, 2, 29, 23, 59, 59])
    #expect(value.nanosecond == 250_000_000 && value.offsetMinutes == 330 && value.fractionDigits == 2)
  }

  @Test(arguments: ["1900-02-29", "2023-02-29", "2024-04-31", "2024-00-10", "2024-13-01", "2024-01-00", "2024-01-32"])
  func impossibleDatesAreRejected(_ date: String) {
    #expect(T.failure("a = \(date)")?.code == .invalidDateTime)
  }

  @Test(arguments: [
    "a = 24:00:00", "a = 12:60:00", "a = 12:00:60", "a = 12:00", "a = 1979-05-27T07:32", "a = 1979-05-27T07:32:00.",
    "a = 1979-05-27T07:32:00+24:00", "a = 1979-05-27T07:32:00+01", "a = 1979-5-27", "a = 1979-05-27T",
  ])
  func malformedTimesAreRejected(_ text: String) {
    #expect(T.failure(text)?.code == .invalidDateTime)
  }

  // MARK: Arrays and inline tables

  @Test func arrays() {
    #expect(
      T.json("a = [ 1, 'two', [3.0], { x = true }, ]")
        == #"{"a":[{"type":"integer","value":"1"},{"type":"string","value":"two"},[{"type":"float","value":"3.0"}],{"x":{"type":"bool","value":"true"}}]}"#
    )
    #expect(
      T.json("a = [\n  1, # one\n  2,\n\n]")
        == #"{"a":[{"type":"integer","value":"1"},{"type":"integer","value":"2"}]}"#)
    #expect(T.json("a = []") == #"{"a":[]}"#)
  }

  @Test func inlineTables() {
    let table = T.parse("p = { name = 'x', pos.x = 1, pos.y = 2 }\nq = {}")
    guard case .table(let p)? = table["p"]?.kind, case .table(let pos)? = p["pos"]?.kind else {
      Issue.record("p.pos missing")
      return
    }
    #expect(p.origin == .inline)
    #expect(pos.entries.map(\.key) == ["x", "y"])
    #expect(T.json("q = {}") == #"{"q":{}}"#)
  }

  // MARK: Tables

  @Test func tablesAndImplicitParents() {
    let table = T.parse(
      """
      [a.b.c]
      x = 1
      [a]
      y = 2
      [a.b.d]
      z = 3
      """)
    guard case .table(let a)? = table["a"]?.kind, case .table(let b)? = a["b"]?.kind else {
      Issue.record("a.b missing")
      return
    }
    #expect(a.origin == .header)
    #expect(b.origin == .implicit)
    #expect(a.entries.map(\.key) == ["b", "y"])
    #expect(b.entries.map(\.key) == ["c", "d"])
  }

  @Test func headerSpanIsTheTableSpan() {
    let text = "[ a . b ]\nx = 1\n"
    guard case .table(let a)? = T.parse(text)["a"]?.kind, let b = a["b"] else {
      Issue.record("a.b missing")
      return
    }
    #expect(T.file(text).text(of: b.span) == "[ a . b ]")
  }

  @Test func subTablesOfDottedTables() {
    #expect(T.json("[fruit]\napple.color = 'red'\n[fruit.apple.texture]\nsmooth = true").contains("texture"))
  }

  @Test func arraysOfTables() {
    let json = T.json(
      """
      [[fruits]]
      name = "apple"
      [fruits.physical]
      color = "red"
      [[fruits.varieties]]
      name = "red delicious"
      [[fruits]]
      name = "banana"
      """)
    #expect(
      json
        == #"{"fruits":[{"name":{"type":"string","value":"apple"},"physical":{"color":{"type":"string","value":"red"}},"varieties":[{"name":{"type":"string","value":"red delicious"}}]},{"name":{"type":"string","value":"banana"}}]}"#
    )
  }

  @Test func commentsWhitespaceAndLineEndings() {
    #expect(T.json("# top\r\n\ta = 1 # c\r\n  [t] # header\n") == #"{"a":{"type":"integer","value":"1"},"t":{}}"#)
    #expect(T.json("\u{FEFF}a = 1") == #"{"a":{"type":"integer","value":"1"}}"#)
    #expect(T.json("") == "{}")
  }

  // MARK: Redefinition rules

  @Test(arguments: [
    ("a = 1\na = 2", DiagnosticCode.duplicateKey),
    ("a.b = 1\na.b = 2", .duplicateKey),
    ("a = {}\na.b = 1", .tableRedefined),
    ("a = { b = 1 }\n[a]", .tableRedefined),
    ("a = { b = 1 }\n[a.c]", .tableRedefined),
    ("a = {b = 1, b = 2}", .duplicateKey),
    ("a = {b.c = 1, b = 2}", .duplicateKey),
    ("[a]\n[a]", .tableRedefined),
    ("[a.b]\n[a]\n[a]", .tableRedefined),
    ("[a]\nb = 1\n[a.b]", .tableRedefined),
    ("[a]\nb.c = 1\n[a.b]", .tableRedefined),
    ("a.b = 1\n[a]", .tableRedefined),
    ("[a.b.c]\n[a]\nb.c.d = 1", .tableRedefined),
    ("[[a]]\n[a]", .tableRedefined),
    ("[a]\n[[a]]", .tableRedefined),
    ("a = []\n[[a]]", .tableRedefined),
    ("a = 1\n[a.b]", .tableRedefined),
    ("a = 1\na.b = 2", .tableRedefined),
    ("[[a.b]]\n[a]\nb.c = 1", .tableRedefined),
    ("[[a.b]]\n[[a]]", .tableRedefined),
  ])
  func redefinitionsAreRejected(_ text: String, _ code: DiagnosticCode) {
    let error = T.failure(text)
    #expect(error?.code == code)
    #expect(error?.secondary.first?.message == "first defined here")
  }

  @Test func allowedRedefinitions() {
    _ = T.parse("[a.b]\n[a]\nx = 1")
    _ = T.parse("[a.b.c]\n[a]\nb.d = 1")
    _ = T.parse("[[a]]\n[a.b]\n[[a]]\n[a.b]")
    _ = T.parse("a.b.c = 1\na.b.d = 2\n[a.b.e]")
  }
}
