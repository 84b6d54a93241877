// The report's stylesheet. Text sits on white or on its own chip (whose colours are set inline by
// contrast); bars and whiskers carry no text, so every label reads at WCAG AA or better.

export const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1a1a1a;background:#ffffff;max-width:1280px}
h1{font-size:20px;margin:0 0 6px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ccc;padding-bottom:3px}
h3{font-size:14px;margin:16px 0 6px} h4{font-size:13px;margin:10px 0 4px}
.fact{margin:2px 0;color:#404040} .hint{color:#4d4d4d;font-size:12px;margin:4px 0 8px} .big{font-size:16px;margin:6px 0}
code{font:12px ui-monospace,monospace;background:#f2f2f2;color:#1a1a1a;padding:0 3px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px} th,td{border-bottom:1px solid #e0e0e0;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{font-weight:600;color:#333333} td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} td.cmd{font:12px ui-monospace,monospace;color:#333333;word-break:break-all}
.chip{display:inline-block;padding:1px 7px;border-radius:3px;font:12px/18px ui-monospace,monospace;white-space:nowrap}
#legend .family{margin:4px 0} #legend .fname{font-weight:600} #legend .fmean{color:#4d4d4d;font-size:12px}
#legend ul{list-style:none;display:inline-flex;flex-wrap:wrap;gap:2px 14px;margin:0 0 0 8px;padding:0} #legend li{display:flex;align-items:center;gap:5px;font:12px ui-monospace,monospace}
.sw{display:inline-block;width:14px;height:14px;border:1px solid #666666}
.bars{display:grid;grid-template-columns:max-content 260px max-content 1fr;gap:4px 10px;align-items:center;margin:6px 0 10px}
.bar{display:contents} .bar .what{font-size:12px;color:#333333} .fix{color:#4d4d4d}
.val{font-size:12px;white-space:nowrap;font-variant-numeric:tabular-nums}
.track{position:relative;display:inline-block;width:260px;height:14px;background:#f0f0f0;border:1px solid #d0d0d0}
.track.thin{height:9px} .fill{position:absolute;left:0;top:0;bottom:0} .fill.pred{background:repeating-linear-gradient(45deg,#2f5d8a 0 3px,#a9c1da 3px 6px)}
.whisker{position:absolute;top:50%;height:2px;margin-top:-1px;background:#000000}
.whisker::before,.whisker::after{content:'';position:absolute;top:-4px;width:2px;height:10px;background:#000000} .whisker::before{left:0} .whisker::after{right:0}
.strategy{margin:10px 0 14px;display:grid;grid-template-columns:200px 262px 1fr;gap:4px 10px;align-items:center}
.strategy .name{font-weight:600} .strategy .sub{display:contents} .strategy .k{font-size:12px;color:#4d4d4d;text-align:right}
.stack{display:flex;width:260px;height:12px;border:1px solid #d0d0d0} .seg{display:block;height:100%}
.zoom{margin:6px 0} .zoom button{font:14px system-ui;width:28px;background:#f2f2f2;color:#1a1a1a;border:1px solid #999999}
.region{margin:10px 0 16px} .region .rhead{font-size:12px;color:#333333;margin:2px 0}
.plot{display:flex;align-items:flex-start;overflow-x:auto} .axis{position:relative;flex:none;width:118px;font:10px/10px ui-monospace,monospace;color:#333333}
.axis span{position:absolute;right:6px;white-space:nowrap} .cols{position:relative;height:14px;font:10px/12px ui-monospace,monospace;color:#333333;margin-left:118px}
.cols span{position:absolute;white-space:nowrap}
canvas{display:block;border:1px solid #bbbbbb;image-rendering:pixelated;cursor:crosshair}
#tip{position:absolute;display:none;background:#1a1a1a;color:#ffffff;padding:4px 8px;font-size:12px;border-radius:3px;pointer-events:none;max-width:560px;z-index:2}
#tip div{color:#ffffff}
`;
