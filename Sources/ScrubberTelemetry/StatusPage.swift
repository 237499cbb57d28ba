import Foundation
import ScrubberCore

/// The operators' status page: one HTML document, server-rendered from a ``ClusterStatus``
/// (everything shows with JavaScript off), whose inline script re-fetches the `status --json`
/// document and re-renders `<main id="status">` with the same markup, element for element.
///
/// Markers (a test contract: `TestSupport`'s `StatusPageDOM` reads them with regexes). Classes
/// below are exact (`class="node"`, never `class="node x"`); colour comes from data attributes.
/// - `<meta name="scrubber-refresh-seconds" content="N">`; the JSON's URL is
///   `<link rel="alternate" type="application/json" href="...">`.
/// - `<body data-rendered-by="server" data-refreshes="0">`; after each successful refresh
///   `data-rendered-by="script"` and `data-refreshes="<count>"`. A failed one sets
///   `data-refresh-error="<message>"` and shows `#refresh-error`, keeping the last data; the
///   next success removes both.
/// - `<div id="paused" data-paused="true|false">`: "Paused since <ISO 8601> by <user>@<host>", or "Running".
/// - `#leader`: `<span id="leader-node" data-value="NODE">`, `id="leader-term" data-value="N"`,
///   `id="leader-lease" data-value="<seconds>"`, or `<span id="leader-none">` when there is none;
///   always `id="leader-changes" data-value="N"` (elections in the last hour).
/// - `#nodes`: `<tr class="node" data-node-id="ID" data-state="active|draining|left" data-assigned="N" data-alive="true|false">`.
/// - `#backlog`: `id="backlog-eligible"`, `backlog-waiting`, `backlog-oldest` (seconds, empty when
///   nothing is eligible), `backlog-failing`, `backlog-bytes`, each with `data-value`; per store
///   `<tr class="store" data-store="NAME" data-images="N" data-bytes="N">` (`data-store=""`: the default store).
/// - `#history`: `id="history-images"` and `id="history-bytes"` with `data-value` (the hour's totals);
///   two `<svg>` charts, `#history-images-chart` and `#history-bytes-chart`, of 60
///   `<rect class="bar" data-ago="M" data-value="N">` each, oldest first.
/// - `#failures`: per class `<section class="failure-class" data-class="in_use" data-images="N">`
///   (N from `failing_by_class`, all stores), holding
///   `<tr class="failure" data-image-id="ID" data-class="in_use" data-store="NAME">`; a failure
///   without a class is in `data-class="unclassified"`.
/// - Byte counts show as "1.5 GiB" with the exact count in `data-value`/`data-bytes` and `title`.
public enum StatusPage {
    /// The whole page, server-rendered from `status`, with inline CSS and a small script that
    /// re-fetches `jsonPath` (relative URL) every `refreshSeconds` and re-renders in place.
    public static func html(_ status: ClusterStatus, refreshSeconds: Double = 5, jsonPath: String = "status.json") -> String {
        let seconds = refreshSeconds.rounded() == refreshSeconds ? "\(Int(refreshSeconds))" : "\(refreshSeconds)"
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="scrubber-refresh-seconds" content="\(seconds)">
            <link rel="alternate" type="application/json" href="\(escape(jsonPath))">
            <title>Scrubber status</title>
            <style>\(css)</style>
            </head>
            <body data-rendered-by="server" data-refreshes="0">
            <div class="page">
            <header class="top"><h1>Glance image scrubber</h1><p class="meta"><span id="updated">Server-rendered</span> \
            · refreshes every \(seconds) s · <a href="\(escape(jsonPath))">JSON</a></p>\
            <p id="refresh-error" role="status" hidden></p></header>
            \(main(status))
            </div>
            <script>\(script)</script>
            </body>
            </html>

            """
    }

    // MARK: The sections; `script`'s `render` mirrors each function, element for element.

    static func main(_ s: ClusterStatus) -> String {
        tag(
            "main",
            ["id": "status"],
            paused(s.paused),
            tag("div", ["class": "summary"], leader(s), backlog(s.backlog)),
            nodes(s),
            history(s.history),
            failures(s)
        )
    }

    static func paused(_ p: PauseState?) -> String {
        guard let p else { return tag("div", ["id": "paused", "data-paused": "false"], text("Running")) }
        let since = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: p.since))
        return tag(
            "div",
            ["id": "paused", "data-paused": "true"],
            tag("strong", [:], text("Paused")),
            text(" since \(since) by \(p.by.user)@\(p.by.host)"),
            tag("span", ["class": "hint"], text("Nothing is assigned or claimed until scrubber resume."))
        )
    }

    static func leader(_ s: ClusterStatus) -> String {
        let changes = stat("Changes (1 h)", "leader-changes", "\(s.history.leaderChanges)", grouped(s.history.leaderChanges))
        guard let l = s.leader else {
            return card("leader", "Leader", tag("div", ["class": "stats"], stat("Node", "leader-none", nil, "no leader"), changes))
        }
        return card(
            "leader",
            "Leader",
            tag(
                "div",
                ["class": "stats"],
                stat("Node", "leader-node", l.nodeID, l.nodeID),
                stat("Term", "leader-term", "\(l.term)", grouped(l.term)),
                stat(
                    "Lease left",
                    "leader-lease",
                    fixed(l.leaseRemainingSeconds, 1),
                    duration(l.leaseRemainingSeconds)
                ),
                changes
            )
        )
    }

    static func backlog(_ b: ClusterStatus.Backlog) -> String {
        let stats = tag(
            "div",
            ["class": "stats"],
            stat("Eligible", "backlog-eligible", "\(b.eligible)", grouped(b.eligible)),
            stat("Waiting", "backlog-waiting", "\(b.waiting)", grouped(b.waiting)),
            stat(
                "Oldest",
                "backlog-oldest",
                b.oldestAgeSeconds.map { fixed($0, 1) } ?? "",
                b.oldestAgeSeconds.map(duration) ?? "–"
            ),
            stat("Failing", "backlog-failing", "\(b.failing)", grouped(b.failing)),
            stat("Bytes", "backlog-bytes", "\(b.bytes)", bytes(b.bytes), title: "\(grouped(b.bytes)) bytes")
        )
        let rows = b.stores.map { s in
            tag(
                "tr",
                ["class": "store", "data-store": s.store ?? "", "data-images": "\(s.images)", "data-bytes": "\(s.bytes)"],
                tag("td", [:], text(s.store ?? "(default)")),
                tag("td", [:], text(grouped(s.images))),
                tag("td", ["title": "\(grouped(s.bytes)) bytes"], text(bytes(s.bytes)))
            )
        }
        return card(
            "backlog",
            "Eligible backlog",
            stats,
            rows.isEmpty ? empty("Nothing is eligible.") : table("stores", ["Store", "Images", "Bytes"], rows)
        )
    }

    static func nodes(_ s: ClusterStatus) -> String {
        let rows = s.nodes.map { n in
            tag(
                "tr",
                [
                    "class": "node", "data-node-id": n.nodeID, "data-state": n.state, "data-assigned": "\(n.assigned)",
                    "data-alive": "\(n.alive)",
                ],
                tag("td", [:], text(n.nodeID), n.nodeID == s.leader?.nodeID ? tag("span", ["class": "badge"], text("leader")) : ""),
                tag("td", [:], text(n.host), tag("span", ["class": "muted"], text("pid \(n.pid)"))),
                tag(
                    "td",
                    [:],
                    tag("span", ["class": "state", "data-state": n.state], text(n.state)),
                    n.drainedBy.map { tag("span", ["class": "muted"], text("drained by \($0)")) } ?? ""
                ),
                tag("td", [:], text(duration(n.heartbeatAgeSeconds))),
                tag("td", [:], text(n.alive ? "yes" : "no")),
                tag("td", [:], text(grouped(n.assigned))),
                tag("td", [:], text(grouped(n.scrubbing))),
                tag("td", [:], text(grouped(n.done))),
                tag("td", [:], text(grouped(n.failed))),
                tag("td", [:], text(fixed(n.rate, 2)))
            )
        }
        let headers = ["Node", "Host", "State", "Heartbeat", "Alive", "Queue", "Scrubbing", "Done", "Failed", "Rate/s"]
        return card("nodes", "Nodes", rows.isEmpty ? empty("No node has joined.") : table("nodes", headers, rows))
    }

    static func history(_ h: ClusterStatus.History) -> String {
        let images = h.minutes.reduce(0) { $0 + $1.images }
        let total = h.minutes.reduce(Int64(0)) { $0 + $1.bytes }
        return card(
            "history",
            "Reclaimed, last hour",
            tag(
                "div",
                ["class": "stats"],
                stat("Images", "history-images", "\(images)", grouped(images)),
                stat("Bytes", "history-bytes", "\(total)", bytes(total), title: "\(grouped(total)) bytes")
            ),
            tag(
                "div",
                ["class": "charts"],
                chart("history-images-chart", "Images per minute", h.minutes.map { ($0.ago, Int64($0.images)) }) { grouped($0) },
                chart("history-bytes-chart", "Bytes per minute", h.minutes.map { ($0.ago, $0.bytes) }, bytes)
            )
        )
    }

    /// 60 bars, oldest left, scaled to the busiest minute, in a 600×100 box stretched to the width.
    static func chart(_ id: String, _ caption: String, _ points: [(ago: Int, value: Int64)], _ label: (Int64) -> String) -> String {
        let peak = points.map(\.value).max() ?? 0
        let bars = points.enumerated().map { i, p in
            let height = p.value > 0 ? max(1, Int((Double(p.value) / Double(peak) * 100).rounded())) : 0
            return tag(
                "rect",
                [
                    "class": "bar", "x": "\(i * 10 + 1)", "y": "\(100 - height)", "width": "8", "height": "\(height)",
                    "data-ago": "\(p.ago)", "data-value": "\(p.value)",
                ],
                tag("title", [:], text("\(p.ago) min ago: \(label(p.value))"))
            )
        }
        return tag(
            "figure",
            ["class": "chart"],
            tag("figcaption", [:], text(caption), tag("span", ["class": "muted"], text("peak \(label(peak))"))),
            tag(
                "svg",
                ["id": id, "viewBox": "0 0 600 100", "preserveAspectRatio": "none", "role": "img", "aria-label": caption],
                bars.joined()
            ),
            tag("div", ["class": "axis"], tag("span", [:], text("60 min ago")), tag("span", [:], text("now")))
        )
    }

    static func failures(_ s: ClusterStatus) -> String {
        let groups = failureClasses.compactMap { c -> String? in
            let rows = s.failures.filter { ($0.failureClass?.rawValue ?? "unclassified") == c.name }
            let counted = s.failingByClass.filter { $0.failureClass.rawValue == c.name }
            let images = counted.isEmpty ? rows.count : counted.reduce(0) { $0 + $1.images }
            guard images > 0 || !rows.isEmpty else { return nil }
            let trs = rows.map { f in
                tag(
                    "tr",
                    ["class": "failure", "data-image-id": f.imageID, "data-class": c.name, "data-store": f.store ?? ""],
                    tag("td", [:], tag("code", [:], text(f.imageID))),
                    tag("td", [:], text(f.store ?? "(default)")),
                    tag("td", [:], text(grouped(f.attempts))),
                    tag("td", [:], text(f.lastError ?? "–")),
                    tag("td", [:], text(f.dependents.isEmpty ? "–" : f.dependents.joined(separator: ", ")))
                )
            }
            return tag(
                "section",
                ["class": "failure-class", "data-class": c.name, "data-images": "\(images)"],
                tag(
                    "h3",
                    [:],
                    tag("span", ["class": "badge", "data-class": c.name], text(c.name)),
                    text("\(grouped(images)) \(images == 1 ? "image" : "images")")
                ),
                tag("p", ["class": "hint"], text(c.hint)),
                trs.isEmpty ? "" : table("failures", ["Image", "Store", "Attempts", "Last error", "Dependents"], trs),
                trs.count < images ? empty("Showing \(trs.count) of \(images).") : ""
            )
        }
        return card("failures", "Failing images", groups.isEmpty ? empty("No failing images.") : groups.joined())
    }

    /// The classes in ``FailureClass`` order, with what an operator does about each; shared with the script.
    static let failureClasses: [(name: String, hint: String)] =
        FailureClass.allCases.map { c in
            switch c {
            case .inUse: (c.rawValue, "Dependents pin the data (RBD clones, open images); retried until they are gone.")
            case .throttled: (c.rawValue, "The store asked us to slow down; retried with a longer backoff.")
            case .transient: (c.rawValue, "5xx answers, timeouts, I/O errors; retried soon.")
            case .misconfigured: (c.rawValue, "Needs a person: credentials, permissions, an unknown store name.")
            case .unsupported: (c.rawValue, "Cannot succeed as configured: an unknown scheme, a read-only store.")
            }
        } + [("unclassified", "No class recorded.")]

    // MARK: Building blocks (`script` has one of each, same names)

    static func card(_ id: String, _ title: String, _ children: String...) -> String {
        tag("section", ["id": id, "class": "card"], tag("h2", [:], text(title)), children.joined())
    }

    static func stat(_ label: String, _ id: String, _ value: String?, _ display: String, title: String? = nil) -> String {
        tag(
            "div",
            ["class": "stat"],
            tag("span", ["class": "label"], text(label)),
            tag("span", ["id": id, "class": "value", "data-value": value, "title": title], text(display))
        )
    }

    static func table(_ kind: String, _ headers: [String], _ rows: [String]) -> String {
        tag(
            "div",
            ["class": "table-wrap"],
            tag(
                "table",
                ["class": kind],
                tag("thead", [:], tag("tr", [:], headers.map { tag("th", [:], text($0)) }.joined())),
                tag("tbody", [:], rows.joined())
            )
        )
    }

    static func empty(_ message: String) -> String { tag("p", ["class": "empty"], text(message)) }

    /// `<name attributes>children</name>`; nil attributes are left out, values escaped.
    static func tag(_ name: String, _ attributes: KeyValuePairs<String, String?>, _ children: String...) -> String {
        let attributes = attributes.compactMap { key, value in value.map { " \(key)=\"\(escape($0))\"" } }.joined()
        return "<\(name)\(attributes)>\(children.joined())</\(name)>"
    }

    static func text(_ string: String) -> String { escape(string) }

    static func escape(_ string: String) -> String {
        var out = ""
        out.reserveCapacity(string.utf8.count)
        for c in string.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    // MARK: Formats (`script` has the same, digit for digit)

    /// `x` rounded half up to `digits` decimals.
    static func fixed(_ x: Double, _ digits: Int) -> String {
        let scale = Double(pow(10, Double(digits)))
        return String(format: "%.\(digits)f", (x * scale).rounded() / scale)
    }

    /// `1,234,567`.
    static func grouped(_ n: some BinaryInteger) -> String {
        let digits = String(n.magnitude)
        var out = n < 0 ? "-" : ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return out
    }

    /// `512 B`, `1.5 GiB`.
    static func bytes(_ n: Int64) -> String { ByteCount.text(n) }

    /// `4.2s`, `12m 5s`, `3h 20m`, `2d 4h`.
    static func duration(_ seconds: Double) -> String {
        guard seconds >= 60 else { return "\(fixed(seconds, 1))s" }
        let t = Int(seconds)
        if t < 3600 { return "\(t / 60)m \(t % 60)s" }
        if t < 86400 { return "\(t / 3600)h \(t % 3600 / 60)m" }
        return "\(t / 86400)d \(t % 86400 / 3600)h"
    }

    // MARK: Style and script

    static let css = #"""
        :root { --bg: #f4f6f9; --text: #1a202c; --muted: #5a6473; --line: #dde2e9; --soft: #f7f9fb; --accent: #2563eb; }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--bg); color: var(--text);
          font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        .page { max-width: 1240px; margin: 0 auto; padding: 20px 16px 40px; }
        .top { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 4px 16px; margin-bottom: 14px; }
        h1 { margin: 0; font-size: 1.4rem; letter-spacing: -.01em; }
        h2 { margin: 0 0 12px; font-size: 1.02rem; }
        h3 { display: flex; align-items: center; gap: 10px; margin: 0 0 4px; font-size: .95rem; }
        a { color: var(--accent); }
        .meta { margin: 0; color: var(--muted); font-size: .85rem; }
        #refresh-error { flex-basis: 100%; margin: 6px 0 0; padding: 6px 10px; border: 1px solid #f3b4b4; border-radius: 6px;
          background: #fdecec; color: #8f1d1d; font-size: .85rem; }
        #refresh-error[hidden] { display: none; }
        main { display: grid; gap: 16px; }
        .summary { display: grid; grid-template-columns: minmax(0, 5fr) minmax(0, 8fr); gap: 16px; }
        .card { min-width: 0; padding: 16px 18px; background: #fff; border: 1px solid var(--line); border-radius: 10px;
          box-shadow: 0 1px 2px rgba(16, 24, 40, .04); }
        .stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr)); gap: 10px; margin-bottom: 14px; }
        #leader .stats { grid-template-columns: repeat(2, minmax(0, 1fr)); }
        #history .stats { grid-template-columns: repeat(2, minmax(0, 220px)); }
        .stats:last-child { margin-bottom: 0; }
        .stat { min-width: 0; padding: 9px 12px; background: var(--soft); border: 1px solid #e8ecf1; border-radius: 8px; }
        .label { display: block; color: var(--muted); font-size: .72rem; font-weight: 600; letter-spacing: .05em;
          text-transform: uppercase; }
        .value { display: block; margin-top: 2px; font-size: 1.25rem; font-weight: 650; overflow-wrap: anywhere; }
        #leader-none { color: #8f1d1d; }
        #paused { padding: 8px 14px; border-radius: 10px; font-size: .9rem; }
        #paused[data-paused="false"] { justify-self: start; background: #e7f6ec; color: #14532d; border: 1px solid #b7e2c4;
          font-weight: 600; }
        #paused[data-paused="true"] { padding: 14px 18px; background: #fff4e0; color: #6b3500; border: 1px solid #f5c27a;
          border-left: 6px solid #d97706; font-size: 1.05rem; }
        #paused .hint { display: block; margin: 2px 0 0; color: #7c4a10; }
        .table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
        table { width: 100%; border-collapse: collapse; font-size: .875rem; }
        th, td { padding: 7px 12px; text-align: left; white-space: nowrap; vertical-align: top; border-bottom: 1px solid #edf0f4; }
        th { background: var(--soft); color: #3b4552; font-size: .75rem; font-weight: 650; letter-spacing: .04em;
          text-transform: uppercase; }
        tbody tr:last-child td { border-bottom: 0; }
        tbody tr:hover td { background: #fafbfd; }
        .value, td { font-variant-numeric: tabular-nums; }
        .nodes :is(td, th):nth-child(n+4), .stores :is(td, th):nth-child(n+2), .failures :is(td, th):nth-child(3) { text-align: right; }
        .failures td:nth-child(4) { white-space: normal; min-width: 260px; overflow-wrap: anywhere; }
        .failures td:nth-child(5) { white-space: normal; min-width: 140px; }
        code { font: .85em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
        .muted { display: block; color: var(--muted); font-size: .8rem; font-weight: 400; }
        figcaption .muted { display: inline; margin-left: 8px; }
        .badge { display: inline-block; margin-left: 6px; padding: 1px 8px; border-radius: 999px; background: #dbeafe; color: #1e40af;
          font-size: .72rem; font-weight: 650; vertical-align: 1px; }
        h3 .badge { margin-left: 0; padding: 2px 10px; font-size: .8rem; }
        .state { display: inline-block; padding: 0 8px; border-radius: 999px; background: #e7f6ec; color: #14532d; font-size: .8rem;
          font-weight: 600; }
        .state[data-state="draining"] { background: #fff1d6; color: #7a4100; }
        .state[data-state="left"] { background: #eceff3; color: #4b5563; }
        tr[data-alive="false"] td:nth-child(5) { color: #b42318; font-weight: 650; }
        .charts { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 20px; }
        .chart { margin: 0; }
        figcaption { margin-bottom: 6px; font-size: .85rem; font-weight: 600; }
        .chart svg { display: block; width: 100%; height: 110px; background: var(--soft); border-bottom: 1px solid #b8c1cc;
          border-radius: 6px 6px 0 0; }
        .bar { fill: var(--accent); }
        #history-bytes-chart .bar { fill: #0f9488; }
        .bar:hover { opacity: .7; }
        .axis { display: flex; justify-content: space-between; margin-top: 4px; color: var(--muted); font-size: .75rem; }
        .failure-class { margin-top: 14px; padding-left: 14px; border-left: 4px solid var(--c, #9aa4b2); }
        .failure-class:first-of-type { margin-top: 0; }
        .hint { margin: 0 0 8px; color: var(--muted); font-size: .85rem; }
        .empty { margin: 0; color: var(--muted); font-style: italic; }
        .failure-class .empty { margin-top: 6px; font-size: .85rem; }
        [data-class="in_use"] { --c: #7c3aed; --cb: #f1e8ff; --ct: #5b21b6; }
        [data-class="throttled"] { --c: #d97706; --cb: #fff1d6; --ct: #7a4100; }
        [data-class="transient"] { --c: #2563eb; --cb: #dbeafe; --ct: #1e40af; }
        [data-class="misconfigured"] { --c: #dc2626; --cb: #fde4e4; --ct: #991b1b; }
        [data-class="unsupported"] { --c: #4b5563; --cb: #e9ecf0; --ct: #1f2937; }
        .badge[data-class] { background: var(--cb); color: var(--ct); }
        @media (max-width: 820px) {
          .page { padding: 12px 10px 28px; }
          .card { padding: 14px 12px; }
          .summary, .charts { grid-template-columns: minmax(0, 1fr); }
          .stats, #history .stats { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; }
          .value { font-size: 1.15rem; }
          .failure-class { padding-left: 10px; }
        }
        """#

    /// Reads its interval and URL from the page (the meta and the alternate link); all it is given
    /// is ``failureClasses`` and `ByteCount.units` as JSON (which escapes `/`: no `</script>`).
    static var script: String {
        func json(_ value: some Encodable) -> String {
            (try? JSONEncoder().encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "[]"
        }
        return #"""

            (() => {
              "use strict";
              const CLASSES = \#(json(failureClasses.map { ["name": $0.name, "hint": $0.hint] }));
              const UNITS = \#(json(ByteCount.units));
              const make = (element, attributes, children) => {
                for (const [key, value] of Object.entries(attributes)) if (value != null) element.setAttribute(key, String(value));
                element.append(...children.flat(Infinity).filter((c) => c != null && c !== ""));
                return element;
              };
              const tag = (name, attributes, ...children) => make(document.createElement(name), attributes, children);
              const svg = (name, attributes, ...children) =>
                make(document.createElementNS("http://www.w3.org/2000/svg", name), attributes, children);

              const fixed = (x, digits) => { const scale = 10 ** digits; return (Math.round(x * scale) / scale).toFixed(digits); };
              const grouped = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
              const bytes = (n) => {
                if (n < 1024) return n + " B";
                let value = n, unit = 0;
                do { value /= 1024; unit += 1; } while (value >= 1024 && unit < UNITS.length);
                return fixed(value, 1) + " " + UNITS[unit - 1];
              };
              const duration = (seconds) => {
                if (!(seconds >= 60)) return fixed(seconds, 1) + "s";
                const t = Math.floor(seconds);
                if (t < 3600) return Math.floor(t / 60) + "m " + (t % 60) + "s";
                if (t < 86400) return Math.floor(t / 3600) + "h " + Math.floor((t % 3600) / 60) + "m";
                return Math.floor(t / 86400) + "d " + Math.floor((t % 86400) / 3600) + "h";
              };

              const card = (id, title, ...children) => tag("section", {id, class: "card"}, tag("h2", {}, title), children);
              const stat = (label, id, value, display, title) => tag("div", {class: "stat"}, tag("span", {class: "label"}, label),
                tag("span", {id, class: "value", "data-value": value, title}, display));
              const table = (kind, headers, rows) => tag("div", {class: "table-wrap"}, tag("table", {class: kind},
                tag("thead", {}, tag("tr", {}, headers.map((h) => tag("th", {}, h)))), tag("tbody", {}, rows)));
              const empty = (message) => tag("p", {class: "empty"}, message);

              const paused = (p) => p == null
                ? tag("div", {id: "paused", "data-paused": "false"}, "Running")
                : tag("div", {id: "paused", "data-paused": "true"}, tag("strong", {}, "Paused"),
                  " since " + p.since + " by " + p.by.user + "@" + p.by.host,
                  tag("span", {class: "hint"}, "Nothing is assigned or claimed until scrubber resume."));

              const leader = (s) => {
                const changes = stat("Changes (1 h)", "leader-changes", s.history.leader_changes, grouped(s.history.leader_changes));
                const l = s.leader;
                if (l == null) {
                  return card("leader", "Leader", tag("div", {class: "stats"}, stat("Node", "leader-none", null, "no leader"), changes));
                }
                return card("leader", "Leader", tag("div", {class: "stats"}, stat("Node", "leader-node", l.node_id, l.node_id),
                  stat("Term", "leader-term", l.term, grouped(l.term)),
                  stat("Lease left", "leader-lease", fixed(l.lease_remaining_s, 1), duration(l.lease_remaining_s)), changes));
              };

              const backlog = (b) => {
                const age = b.oldest_age_s, known = age != null;
                const stats = tag("div", {class: "stats"}, stat("Eligible", "backlog-eligible", b.eligible, grouped(b.eligible)),
                  stat("Waiting", "backlog-waiting", b.waiting, grouped(b.waiting)),
                  stat("Oldest", "backlog-oldest", known ? fixed(age, 1) : "", known ? duration(age) : "–"),
                  stat("Failing", "backlog-failing", b.failing, grouped(b.failing)),
                  stat("Bytes", "backlog-bytes", b.bytes, bytes(b.bytes), grouped(b.bytes) + " bytes"));
                const rows = b.stores.map((s) => tag("tr",
                  {class: "store", "data-store": s.store ?? "", "data-images": s.images, "data-bytes": s.bytes},
                  tag("td", {}, s.store ?? "(default)"), tag("td", {}, grouped(s.images)),
                  tag("td", {title: grouped(s.bytes) + " bytes"}, bytes(s.bytes))));
                return card("backlog", "Eligible backlog", stats,
                  rows.length === 0 ? empty("Nothing is eligible.") : table("stores", ["Store", "Images", "Bytes"], rows));
              };

              const nodes = (s) => {
                const leaderID = s.leader ? s.leader.node_id : null;
                const rows = s.nodes.map((n) => tag("tr",
                  {class: "node", "data-node-id": n.node_id, "data-state": n.state, "data-assigned": n.assigned, "data-alive": n.alive},
                  tag("td", {}, n.node_id, n.node_id === leaderID ? tag("span", {class: "badge"}, "leader") : ""),
                  tag("td", {}, n.host, tag("span", {class: "muted"}, "pid " + n.pid)),
                  tag("td", {}, tag("span", {class: "state", "data-state": n.state}, n.state),
                    n.drained_by == null ? "" : tag("span", {class: "muted"}, "drained by " + n.drained_by)),
                  tag("td", {}, duration(n.heartbeat_age_s)), tag("td", {}, n.alive ? "yes" : "no"),
                  tag("td", {}, grouped(n.assigned)), tag("td", {}, grouped(n.scrubbing)),
                  tag("td", {}, grouped(n.done)), tag("td", {}, grouped(n.failed)), tag("td", {}, fixed(n.rate, 2))));
                const headers = ["Node", "Host", "State", "Heartbeat", "Alive", "Queue", "Scrubbing", "Done", "Failed", "Rate/s"];
                return card("nodes", "Nodes", rows.length === 0 ? empty("No node has joined.") : table("nodes", headers, rows));
              };

              const chart = (id, caption, points, label) => {
                const peak = points.reduce((m, p) => Math.max(m, p.value), 0);
                const bars = points.map((p, i) => {
                  const height = p.value > 0 ? Math.max(1, Math.round(p.value / peak * 100)) : 0;
                  return svg("rect", {class: "bar", x: i * 10 + 1, y: 100 - height, width: 8, height, "data-ago": p.ago,
                    "data-value": p.value}, svg("title", {}, p.ago + " min ago: " + label(p.value)));
                });
                return tag("figure", {class: "chart"}, tag("figcaption", {}, caption, tag("span", {class: "muted"}, "peak " + label(peak))),
                  svg("svg", {id, viewBox: "0 0 600 100", preserveAspectRatio: "none", role: "img", "aria-label": caption}, bars),
                  tag("div", {class: "axis"}, tag("span", {}, "60 min ago"), tag("span", {}, "now")));
              };

              const history = (h) => {
                const images = h.minutes.reduce((sum, m) => sum + m.images, 0);
                const total = h.minutes.reduce((sum, m) => sum + m.bytes, 0);
                return card("history", "Reclaimed, last hour",
                  tag("div", {class: "stats"}, stat("Images", "history-images", images, grouped(images)),
                    stat("Bytes", "history-bytes", total, bytes(total), grouped(total) + " bytes")),
                  tag("div", {class: "charts"},
                    chart("history-images-chart", "Images per minute", h.minutes.map((m) => ({ago: m.ago, value: m.images})), grouped),
                    chart("history-bytes-chart", "Bytes per minute", h.minutes.map((m) => ({ago: m.ago, value: m.bytes})), bytes)));
              };

              const failures = (s) => {
                const groups = CLASSES.flatMap((c) => {
                  const rows = s.failures.filter((f) => (f.class ?? "unclassified") === c.name);
                  const counted = s.failing_by_class.filter((g) => g.class === c.name);
                  const images = counted.length === 0 ? rows.length : counted.reduce((sum, g) => sum + g.images, 0);
                  if (images === 0 && rows.length === 0) return [];
                  const trs = rows.map((f) => tag("tr",
                    {class: "failure", "data-image-id": f.image_id, "data-class": c.name, "data-store": f.store ?? ""},
                    tag("td", {}, tag("code", {}, f.image_id)), tag("td", {}, f.store ?? "(default)"),
                    tag("td", {}, grouped(f.attempts)), tag("td", {}, f.last_error ?? "–"),
                    tag("td", {}, f.dependents.length === 0 ? "–" : f.dependents.join(", "))));
                  return [tag("section", {class: "failure-class", "data-class": c.name, "data-images": images},
                    tag("h3", {}, tag("span", {class: "badge", "data-class": c.name}, c.name),
                      grouped(images) + " " + (images === 1 ? "image" : "images")),
                    tag("p", {class: "hint"}, c.hint),
                    trs.length === 0 ? "" : table("failures", ["Image", "Store", "Attempts", "Last error", "Dependents"], trs),
                    trs.length < images ? empty("Showing " + trs.length + " of " + images + ".") : "")];
                });
                return card("failures", "Failing images", groups.length === 0 ? empty("No failing images.") : groups);
              };

              const render = (s) => tag("main", {id: "status"}, paused(s.paused),
                tag("div", {class: "summary"}, leader(s), backlog(s.backlog)), nodes(s), history(s.history), failures(s));

              const body = document.body;
              const notice = document.getElementById("refresh-error");
              const meta = document.querySelector('meta[name="scrubber-refresh-seconds"]');
              const seconds = Number(meta && meta.content) || 5;
              const url = document.querySelector('link[rel="alternate"][type="application/json"]').getAttribute("href");
              let refreshes = 0;
              const refresh = async () => {
                try {
                  const response = await fetch(url, {cache: "no-store", credentials: "same-origin"});
                  if (!response.ok) throw new Error("HTTP " + response.status + " " + response.statusText);
                  const main = render(await response.json());
                  document.getElementById("status").replaceWith(main);
                  refreshes += 1;
                  body.dataset.renderedBy = "script";
                  body.dataset.refreshes = String(refreshes);
                  body.removeAttribute("data-refresh-error");
                  notice.hidden = true;
                  notice.textContent = "";
                  document.getElementById("updated").textContent = "Updated " + new Date().toLocaleTimeString();
                } catch (error) {
                  const message = String((error && error.message) || error);
                  body.dataset.refreshError = message;
                  notice.textContent = "Refresh failed (" + message + "); showing the last data.";
                  notice.hidden = false;
                } finally {
                  setTimeout(refresh, seconds * 1000);
                }
              };
              setTimeout(refresh, seconds * 1000);
            })();

            """#
    }
}
