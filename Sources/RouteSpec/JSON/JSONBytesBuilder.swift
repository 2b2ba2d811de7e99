/// Writes one compact JSON document straight into bytes, member by member, for a writer that knows its document's
/// shape (a translated request) and so needs no `JSONValue` tree: the bytes are those ``JSONWriter`` would write for
/// the same tree (its number and string spellings), without the tree's allocations.
///
/// Commas are placed here; the caller opens and closes each object and array (`beginObject`/`endObject`, …) and
/// writes a key before each member's value.
public struct JSONBytesBuilder: Sendable {
  /// The document so far.
  public private(set) var bytes: [UInt8]
  /// Whether the next key or array element follows another in its container (and so needs a comma).
  private var followsEntry = false

  /// Starts an empty document with room for `capacity` bytes, so that a document of about that size is written
  /// without the buffer growing.
  public init(capacity: Int) {
    bytes = []
    bytes.reserveCapacity(capacity)
  }

  // MARK: Containers

  /// Opens an object: the document, an array element, or the value of the key just written.
  public mutating func beginObject() { open(UInt8(ascii: "{")) }

  /// Closes the innermost open object.
  public mutating func endObject() { close(UInt8(ascii: "}")) }

  /// Opens an array: the document, an array element, or the value of the key just written.
  public mutating func beginArray() { open(UInt8(ascii: "[")) }

  /// Closes the innermost open array.
  public mutating func endArray() { close(UInt8(ascii: "]")) }

  /// Opens an object as the value of member `key`.
  public mutating func beginObject(_ key: StaticString) {
    self.key(key)
    beginObject()
  }

  /// Opens an array as the value of member `key`.
  public mutating func beginArray(_ key: StaticString) {
    self.key(key)
    beginArray()
  }

  private mutating func open(_ bracket: UInt8) {
    separate()
    bytes.append(bracket)
  }

  private mutating func close(_ bracket: UInt8) {
    bytes.append(bracket)
    followsEntry = true
  }

  // MARK: Keys

  /// Writes a member's key; a value must follow. `key` must need no escape (a plain ASCII name), as it is copied
  /// between the quotes as it is.
  public mutating func key(_ key: StaticString) {
    separate()
    bytes.append(UInt8(ascii: "\""))
    bytes.append(literal: key)
    bytes.append(literal: "\":")
  }

  /// Writes a member's key known only at run time, escaped; a value must follow.
  public mutating func key(escaping key: String) {
    separate()
    JSONWriter.writeString(key, into: &bytes)
    bytes.append(UInt8(ascii: ":"))
  }

  // MARK: Values (an array element, or the value of the key just written)

  /// Writes a string.
  public mutating func string(_ text: String) { entry { JSONWriter.writeString(text, into: &$0) } }

  /// Writes `true` or `false`.
  public mutating func bool(_ flag: Bool) { entry { $0.append(literal: flag ? "true" : "false") } }

  /// Writes an integer.
  public mutating func int(_ number: Int64) { entry { JSONWriter.writeInteger(number, into: &$0) } }

  /// Writes a double as ``JSONWriter`` spells it.
  public mutating func double(_ number: Double) { entry { JSONWriter.writeDouble(number, into: &$0) } }

  /// Writes `null`.
  public mutating func null() { entry { $0.append(literal: "null") } }

  /// Writes a value that is already a tree (a client's schema, say).
  public mutating func value(_ value: JSONValue) {
    entry { JSONWriter.write(value, into: &$0, pretty: false, depth: 0) }
  }

  /// Writes a value that is already JSON text (a part of the document written by another builder), as it is.
  public mutating func value(serialized json: [UInt8]) { entry { $0.append(contentsOf: json) } }

  /// Writes one value with `write`: after its comma if it needs one, or as the value of member `key`.
  private mutating func entry(_ key: StaticString? = nil, _ write: (inout [UInt8]) -> Void) {
    if let key { self.key(key) }
    separate()
    write(&bytes)
    followsEntry = true
  }

  // MARK: Members (a key and its value)

  /// Writes member `key` with a string value.
  public mutating func member(_ key: StaticString, string text: String) {
    entry(key) { JSONWriter.writeString(text, into: &$0) }
  }

  /// Writes member `key` with a boolean value.
  public mutating func member(_ key: StaticString, bool flag: Bool) {
    entry(key) { $0.append(literal: flag ? "true" : "false") }
  }

  /// Writes member `key` with an integer value.
  public mutating func member(_ key: StaticString, int number: Int64) {
    entry(key) { JSONWriter.writeInteger(number, into: &$0) }
  }

  /// Writes member `key` with a double value, as ``JSONWriter`` spells it.
  public mutating func member(_ key: StaticString, double number: Double) {
    entry(key) { JSONWriter.writeDouble(number, into: &$0) }
  }

  /// Writes member `key` with a value that is already a tree.
  public mutating func member(_ key: StaticString, value: JSONValue) {
    entry(key) { JSONWriter.write(value, into: &$0, pretty: false, depth: 0) }
  }

  /// A comma before an entry that follows another in its container; after a key or an opening bracket, none.
  private mutating func separate() {
    if followsEntry { bytes.append(UInt8(ascii: ",")) }
    followsEntry = false
  }
}
