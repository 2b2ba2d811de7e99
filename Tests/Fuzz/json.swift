import RouteSpec

/// JSON parser: parses the whole input; a parsed value must serialise to text that parses back to a value
/// with the same serialisation (the writer and the parser agree).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
  guard let value = try? JSONParser.parse(bytes) else { return 0 }
  let written = value.serializedBytes()
  guard let again = try? JSONParser.parse(written) else {
    fatalError("the writer produced unparsable JSON: \(String(decoding: written, as: UTF8.self))")
  }
  let rewritten = again.serializedBytes()
  if rewritten != written {
    fatalError(
      "serialisation is not stable: \(String(decoding: written, as: UTF8.self)) "
        + "became \(String(decoding: rewritten, as: UTF8.self))")
  }
  _ = value.serialized(pretty: true)
  return 0
}
