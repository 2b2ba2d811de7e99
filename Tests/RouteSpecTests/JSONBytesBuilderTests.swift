import Testing

@testable import RouteSpec

/// ``JSONBytesBuilder`` writes the bytes ``JSONWriter`` writes for the same tree: commas, nesting, numbers and
/// escapes.
@Suite struct JSONBytesBuilderTests {
  @Test func nestedDocumentMatchesTheTreeWriter() {
    let tree: JSONValue = .object([
      JSONMember("model", "m\"1\\\n\u{1}é😀"),
      JSONMember(
        "messages",
        .array([
          .object([JSONMember("role", "user"), JSONMember("content", .null)]),
          .object([]),
          .array([]),
          .array([1, 2.5, true, "x"]),
        ])),
      JSONMember("max_tokens", 100),
      JSONMember("a\"b", .object([JSONMember("empty", .array([]))])),
      JSONMember("schema", .object([JSONMember("type", "object"), JSONMember("enum", [nil, "a"])])),
      JSONMember("last", false),
    ])
    var out = JSONBytesBuilder(capacity: 16)
    out.beginObject()
    out.member("model", string: "m\"1\\\n\u{1}é😀")
    out.beginArray("messages")
    out.beginObject()
    out.member("role", string: "user")
    out.key("content")
    out.null()
    out.endObject()
    out.beginObject()
    out.endObject()
    out.beginArray()
    out.endArray()
    out.beginArray()
    out.int(1)
    out.double(2.5)
    out.bool(true)
    out.string("x")
    out.endArray()
    out.endArray()
    out.member("max_tokens", int: 100)
    out.key(escaping: "a\"b")
    out.beginObject()
    out.value(serialized: Array(#""empty":[]"#.utf8))
    out.endObject()
    out.member("schema", value: .object([JSONMember("type", "object"), JSONMember("enum", [nil, "a"])]))
    out.member("last", bool: false)
    out.endObject()
    #expect(String(decoding: out.bytes, as: UTF8.self) == tree.serialized())
  }

  @Test(arguments: [0.0, -0.0, 1.0, 0.1, 0.30000000000000004, 1e-7, 123_456.789, 1e15, 1e16, -2.5, .infinity, .nan])
  func doublesAreSpelledAsTheTreeWriterSpellsThem(number: Double) {
    var out = JSONBytesBuilder(capacity: 0)
    out.beginObject()
    out.member("x", double: number)
    out.beginArray("y")
    out.double(number)
    out.endArray()
    out.endObject()
    let tree: JSONValue = .object([JSONMember("x", .double(number)), JSONMember("y", [.double(number)])])
    #expect(String(decoding: out.bytes, as: UTF8.self) == tree.serialized())
  }
}
