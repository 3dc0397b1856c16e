import CXML2
import Testing
import VigieChat

@Suite("libxml2 (VigieChat)")
struct XML2Tests {
  @Test func xml2VersionMatchesPkgConfig() throws {
    let version = XML2Library.version
    #expect(!version.isEmpty)
    #expect(PkgConfig.majorMinor(version) == (try PkgConfig.majorMinor(of: "libxml-2.0")))
    #expect(PkgConfig.majorMinor(XML2Library.headerVersion) == PkgConfig.majorMinor(version))
  }

  @Test func pushParserParsesDocumentInTwoChunks() throws {
    XML2Library.initialize()
    let document = Array(
      "<?xml version='1.0'?><stream xmlns='jabber:client'><message to='a@b'><body>salut</body></message></stream>"
        .utf8)
    let split = 37  // in the middle of the <stream> start tag
    let first = Array(document[..<split])
    let second = Array(document[split...])

    let parser = try #require(
      first.withUnsafeBufferPointer { bytes in
        bytes.withMemoryRebound(to: CChar.self) {
          xmlCreatePushParserCtxt(nil, nil, $0.baseAddress, Int32($0.count), "stream.xml")
        }
      })
    defer { xmlFreeParserCtxt(parser) }
    let status = second.withUnsafeBufferPointer { bytes in
      bytes.withMemoryRebound(to: CChar.self) {
        xmlParseChunk(parser, $0.baseAddress, Int32($0.count), 1)
      }
    }
    #expect(status == 0)
    #expect(parser.pointee.wellFormed == 1)

    let doc = try #require(parser.pointee.myDoc)
    defer { xmlFreeDoc(doc) }
    let root = try #require(xmlDocGetRootElement(doc))
    #expect(String(cString: root.pointee.name) == "stream")
    let content = try #require(xmlNodeGetContent(root))
    defer { vigie_xml_free(content) }
    #expect(String(cString: content) == "salut")
  }
}
