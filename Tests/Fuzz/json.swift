import RouteSpec
import RouterRuntime

/// JSON parser: parses the whole input; a parsed value must serialise to text that parses back to a value
/// with the same serialisation (the writer and the parser agree). The pull reader must accept exactly what the
/// parser accepts, with the same error, and its walk writes the same bytes; and an OpenAI answer's client bytes must not
/// depend on whether they were read from the bytes or from the tree.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
  let parsed = Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
  let pulled = Result { () throws(JSONParseError) in
    try JSONReader.read(bytes) { (reader) throws(JSONParseError) in
      var out: [UInt8] = []
      try copy(&reader, into: &out)
      return out
    }
  }
  if pulled != parsed.map({ $0.serializedBytes() }) {
    fatalError("the reader and the parser disagree: \(pulled) against \(parsed)")
  }
  for thoughts in [false, true] {
    let options = GeminiResponseOptions(
      includeThoughts: thoughts, modelVersion: "fuzz-model", responseId: "fuzz-id", backend: "fuzz")
    let direct = try? OpenAIToGemini.translatedBytes(answer: bytes, options: options)
    var viaTree: (bytes: [UInt8], usage: GeminiUsageCounts?, warnings: TranslationWarnings)?
    if case .success(let json) = parsed { viaTree = try? OpenAIToGemini.translatedBytes(json, options: options) }
    if direct?.bytes != viaTree?.bytes || direct?.usage != viaTree?.usage {
      fatalError("an answer's bytes depend on how it was read: \(String(decoding: bytes, as: UTF8.self))")
    }
  }
  guard case .success(let value) = parsed else { return 0 }
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

/// The document written back compactly by walking it with the reader (its own walkers, not the parser's tree).
func copy(_ reader: inout JSONReader, into out: inout [UInt8]) throws(JSONParseError) {
  switch reader.next {
  case .object:
    out.append(UInt8(ascii: "{"))
    try reader.forEachMember { (reader, key) throws(JSONParseError) in
      if out.last != UInt8(ascii: "{") { out.append(UInt8(ascii: ",")) }
      JSONWriter.writeString(key.text, into: &out)
      out.append(UInt8(ascii: ":"))
      try copy(&reader, into: &out)
    }
    out.append(UInt8(ascii: "}"))
  case .array:
    out.append(UInt8(ascii: "["))
    try reader.forEachElement { (reader) throws(JSONParseError) in
      if out.last != UInt8(ascii: "[") { out.append(UInt8(ascii: ",")) }
      try copy(&reader, into: &out)
    }
    out.append(UInt8(ascii: "]"))
  case .string: JSONWriter.writeString(try reader.readString(), into: &out)
  default: JSONWriter.write(try reader.readValue(), into: &out, pretty: false, depth: 0)
  }
}
