import RouteSpec

extension [UInt8] {
  /// Appends a literal's bytes in one copy: appending its `utf8` view cost about 170 instructions a time, several
  /// times in every streamed event, answer and response head.
  mutating func append(literal: StaticString) {
    append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
  }

  /// Appends `text`'s UTF-8 in one copy from its own buffer, for text known only at run time (a header's name
  /// or value), at the cost of ``append(literal:)`` rather than of the `utf8` view's.
  mutating func append(utf8 text: String) {
    var text = text
    text.withUTF8 { append(contentsOf: $0) }
  }

  /// Appends `number` in decimal, the digits `String(number)` spells, without making that string.
  mutating func append(decimal number: Int) {
    JSONWriter.writeInteger(Int64(number), into: &self)
  }
}
