import Foundation
import ScrubberCore
import Testing

@Suite("INIDocument: oslo.config INI parsing")
struct INIDocumentTests {
    @Test("sections, `=` and `:` separators, split at whichever comes first, with file and line of every value")
    func sectionsAndSeparators() throws {
        let doc = try INIDocument(
            parsing: """
                [DEFAULT]
                scrub_time = 60
                wakeup_time: 30
                [database]
                connection = sqlite:////var/lib/glance/glance.sqlite
                [other]
                url: http://x?a=b
                """,
            file: "a.conf"
        )
        #expect(doc.value("DEFAULT", "scrub_time")?.text == "60")
        #expect(doc.value("DEFAULT", "wakeup_time")?.text == "30")
        #expect(doc.value("database", "connection")?.text == "sqlite:////var/lib/glance/glance.sqlite")
        #expect(doc.value("other", "url")?.text == "http://x?a=b")
        #expect(doc.value("DEFAULT", "scrub_time")?.file == "a.conf")
        #expect(doc.value("DEFAULT", "scrub_time")?.line == 2)
        #expect(doc.value("database", "connection")?.line == 5)
        #expect(doc.value("database", "scrub_time") == nil)
        #expect(doc.value("nosuch", "scrub_time") == nil)
    }

    @Test("lines starting with # or ; are comments; an inline # is part of the value")
    func comments() throws {
        let doc = try INIDocument(
            parsing: """
                # leading comment = not an option
                [DEFAULT]
                ; scrub_time = 1
                #daemon = true
                wakeup_time = 30 # seconds
                """,
            file: "a.conf"
        )
        #expect(doc.value("DEFAULT", "scrub_time") == nil)
        #expect(doc.value("DEFAULT", "daemon") == nil)
        #expect(doc.value("DEFAULT", "wakeup_time")?.text == "30 # seconds")
        #expect(doc.sections["DEFAULT"]?.count == 1)
    }

    @Test("an indented line continues the previous value, joined with a newline; a blank line ends it")
    func continuationLines() throws {
        let doc = try INIDocument(
            parsing: """
                [fast]
                filesystem_store_datadirs = /srv/a:100
                    /srv/b:200
                \t/srv/c

                  other = 1
                """,
            file: "a.conf"
        )
        let value = try #require(doc.value("fast", "filesystem_store_datadirs"))
        #expect(value.text == "/srv/a:100\n/srv/b:200\n/srv/c")
        #expect(value.line == 2)
        // After the blank line, an indented assignment is an option of its own.
        #expect(doc.value("fast", "other")?.text == "1")
    }

    @Test("one pair of matching quotes is stripped; unmatched quotes are kept")
    func quotesStripped() throws {
        let doc = try INIDocument(
            parsing: """
                [DEFAULT]
                a = "double quoted"
                b = 'single quoted'
                c = "mismatched'
                d = ""
                e = "
                """,
            file: "a.conf"
        )
        #expect(doc.value("DEFAULT", "a")?.text == "double quoted")
        #expect(doc.value("DEFAULT", "b")?.text == "single quoted")
        #expect(doc.value("DEFAULT", "c")?.text == "\"mismatched'")
        #expect(doc.value("DEFAULT", "d")?.text == "")
        #expect(doc.value("DEFAULT", "e")?.text == "\"")
    }

    @Test("a repeated key keeps every occurrence in order; the single-valued lookup takes the last")
    func repeatedKeys() throws {
        let doc = try INIDocument(
            parsing: """
                [DEFAULT]
                scrub_time = 1
                scrub_time = 2
                [DEFAULT]
                scrub_time = 3
                """,
            file: "a.conf"
        )
        #expect(doc.values("DEFAULT", "scrub_time").map(\.text) == ["1", "2", "3"])
        #expect(doc.values("DEFAULT", "scrub_time").map(\.line) == [2, 3, 5])
        #expect(doc.value("DEFAULT", "scrub_time")?.text == "3")
        #expect(doc.values("DEFAULT", "nosuch").isEmpty)
    }

    @Test("CRLF line endings are accepted, with comments, continuations and line numbers as for LF")
    func crlf() throws {
        let doc = try INIDocument(
            parsing:
                "# written on Windows\r\n[DEFAULT]\r\nscrub_time = 5\r\n\r\n[glance_store]\r\nfilesystem_store_datadirs = /a:1\r\n  /b:2\r\n",
            file: "a.conf"
        )
        #expect(doc.value("DEFAULT", "scrub_time")?.text == "5")
        #expect(doc.value("DEFAULT", "scrub_time")?.line == 3)
        #expect(doc.value("glance_store", "filesystem_store_datadirs")?.text == "/a:1\n/b:2")
        #expect(doc.value("glance_store", "filesystem_store_datadirs")?.line == 6)
    }

    @Test("merging a later file: its single values win, multi-valued options accumulate, each keeps its own file")
    func mergeLaterWins() throws {
        var doc = try INIDocument(
            parsing: """
                [DEFAULT]
                scrub_time = 10
                daemon = true
                [glance_store]
                filesystem_store_datadirs = /srv/a:1
                """,
            file: "glance-scrubber.conf"
        )
        let later = try INIDocument(
            parsing: """
                [DEFAULT]
                scrub_time = 20
                [glance_store]
                filesystem_store_datadirs = /srv/b:2
                [cluster]
                node_ttl = 9
                """,
            file: "override.conf"
        )
        doc.merge(later)
        #expect(doc.value("DEFAULT", "scrub_time")?.text == "20")
        #expect(doc.value("DEFAULT", "scrub_time")?.file == "override.conf")
        #expect(doc.value("DEFAULT", "daemon")?.text == "true")
        #expect(doc.value("cluster", "node_ttl")?.text == "9")
        #expect(doc.values("glance_store", "filesystem_store_datadirs").map(\.text) == ["/srv/a:1", "/srv/b:2"])
        #expect(doc.values("glance_store", "filesystem_store_datadirs").map(\.file) == ["glance-scrubber.conf", "override.conf"])

        let config = try ScrubberConfiguration(ini: doc)
        #expect(config.scrubTime == 20)
        #expect(config.daemon)
        #expect(config.stores.backends.first?.fileRoots == [FileRoot(path: "/srv/a", priority: 1), FileRoot(path: "/srv/b", priority: 2)])
    }

    @Test(
        "a malformed line throws a ConfigError naming the file and line",
        arguments: [
            ("[DEFAULT]\nscrub_time = 1\n[broken\n", 3),
            ("[DEFAULT]\n[]\n", 2),
            ("scrub_time = 1\n", 1),
            ("[DEFAULT]\n\njust words\n", 3),
            ("[DEFAULT]\n = value\n", 2),
        ]
    )
    func malformedLines(text: String, line: Int) {
        let error = #expect(throws: ConfigError.self) {
            try INIDocument(parsing: text, file: "bad.conf")
        }
        #expect(error?.file == "bad.conf")
        #expect(error?.line == line)
        #expect(error?.description.contains("bad.conf:\(line)") == true)
    }
}
