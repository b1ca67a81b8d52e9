/// The page around the report's sections: XHTML-compatible markup with inline CSS only (no
/// scripts, fonts, images or links to anything outside the file).
struct HTMLDocument {
    var title: String
    var body: String

    func render() -> String {
        """
        <!DOCTYPE html>
        <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="generator" content="simfluence"/>
        <title>\(Markup.escape(title))</title>
        <style>
        \(Self.css)
        </style>
        </head>
        <body>
        <main>
        \(body)
        </main>
        </body>
        </html>

        """
    }

    static let css = """
    :root { color-scheme: light; }
    body { margin: 0; background: #f3f3f1; color: #1d1d1d;
      font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
    main { max-width: 1180px; margin: 0 auto; padding: 20px 28px 40px; background: #ffffff; }
    h1 { font-size: 24px; margin: 8px 0 4px; }
    h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d6d6d6; }
    h3 { font-size: 15px; margin: 22px 0 6px; }
    p { margin: 6px 0; max-width: 920px; }
    code, .id { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
    .id { overflow-wrap: anywhere; }
    nav ol { margin: 4px 0; padding-left: 22px; columns: 2; max-width: 640px; }
    table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
    th, td { padding: 4px 10px; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: middle; }
    thead th { border-bottom: 2px solid #b9b9b9; font-weight: 600; }
    td.num, th.num { text-align: right; white-space: nowrap; }
    table.facts th { font-weight: 600; color: #444; white-space: nowrap; }
    table.metrics th[scope=row] { white-space: nowrap; }
    table.metrics td.best strong { font-weight: 700; }
    .scroll { overflow-x: auto; }
    .mark { color: #b34700; font-weight: 700; }
    .caption, figcaption { font-size: 13px; color: #3d3d3d; max-width: 1000px; margin-top: 6px; }
    figure { margin: 14px 0 30px; }
    .panels { display: flex; flex-wrap: wrap; gap: 6px 10px; }
    svg { overflow: visible; }
    svg.plot { background: #ffffff; }
    svg text { font-family: inherit; fill: #2a2a2a; }
    svg .ticklabel { font-size: 11px; fill: #444; }
    svg .axistitle { font-size: 12px; }
    svg .plottitle { font-size: 12.5px; font-weight: 600; }
    svg.swatch { vertical-align: middle; margin-right: 6px; }
    ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 20px; padding: 0; margin: 4px 0 6px; font-size: 13px; }
    ul.legend li { display: flex; align-items: center; }
    .attribution { display: grid; grid-template-columns: repeat(auto-fit, minmax(470px, 1fr)); gap: 8px 28px; align-items: start; }
    .attribution table { width: 100%; }
    .attribution caption { text-align: left; font-weight: 600; color: #1d1d1d; padding-bottom: 2px; }
    .attribution td.example { font-size: 12.5px; overflow-wrap: anywhere; }
    .digitcell { display: flex; align-items: center; gap: 8px; }
    .note { color: #7a3e00; }
    .muted { color: #666; }
    footer { margin-top: 40px; font-size: 12px; color: #777; }
    """
}
