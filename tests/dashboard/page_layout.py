"""Layout checks of the live page run in the browser: overlapping boxes, overflow, controls.

:data:`LAYOUT_PROBE` returns, for the page as shown, the visible boxes of text and controls
(leaf elements with text of their own, buttons, inputs, labels of checkboxes) that overlap
one another, whether the page scrolls sideways, and where Record and Stop are.
"""

from __future__ import annotations

from typing import Any

LAYOUT_PROBE = """() => {
  const visible = (el) => {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const boxes = [...document.querySelectorAll("body *")]
    .filter((el) => !["SCRIPT", "STYLE", "CANVAS", "OPTION"].includes(el.tagName))
    .filter((el) => el.closest(".offline") === null)
    .filter((el) => ownText(el) || ["BUTTON", "INPUT"].includes(el.tagName))
    .filter(visible)
    .map((el) => {
      const r = el.getBoundingClientRect();
      const text = (el.textContent || el.value || "").trim().slice(0, 30);
      const name = (el.id || el.className || el.tagName) + ":" + text;
      return {el, name, x0: r.left, y0: r.top, x1: r.right, y1: r.bottom};
    });
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
      const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
      if (w > 1 && h > 1) overlaps.push([a.name, b.name]);
    }
  }
  // text cut off by its box (an ellipsis is a deliberate cut: the full text is elsewhere)
  const clipped = boxes
    .filter((b) => ownText(b.el) && getComputedStyle(b.el).textOverflow !== "ellipsis")
    .filter((b) => b.el.scrollWidth > b.el.clientWidth + 1 && b.el.clientWidth > 0)
    .map((b) => b.name);
  const box = (id) => {
    const r = document.getElementById(id).getBoundingClientRect();
    return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom};
  };
  const doc = document.scrollingElement;
  return {
    overlaps,
    clipped,
    outside: boxes.filter((b) => b.x0 < -1 || b.x1 > innerWidth + 1).map((b) => b.name),
    scroll_width: doc.scrollWidth, client_width: doc.clientWidth,
    scroll_height: doc.scrollHeight, client_height: doc.clientHeight,
    record: box("btn-start"), stop: box("btn-stop"), marker: box("btn-marker"),
    n_boxes: boxes.length, width: innerWidth, height: innerHeight,
  };
}"""

#: Phone, tablet (portrait), laptop (landscape).
VIEWPORTS = ((390, 844), (800, 1280), (1280, 800))


def layout_problems(probe: dict[str, Any]) -> list[str]:
    """What is wrong with one viewport's :data:`LAYOUT_PROBE` result (empty: nothing)."""
    problems = []
    if probe["overlaps"]:
        problems.append(f"overlapping boxes: {probe['overlaps'][:6]}")
    if probe["clipped"]:
        problems.append(f"text cut off by its box: {probe['clipped'][:6]}")
    if probe["outside"]:
        problems.append(f"boxes outside the viewport's width: {probe['outside'][:6]}")
    if probe["scroll_width"] > probe["client_width"]:
        problems.append(f"scrolls sideways ({probe['scroll_width']} > {probe['client_width']})")
    for name in ("record", "stop"):
        b = probe[name]
        inside = b["x0"] >= 0 and b["y0"] >= 0 and b["x1"] <= probe["width"]
        if not (inside and b["y1"] <= probe["height"] and b["x1"] - b["x0"] > 40):
            problems.append(f"{name} button not fully on screen: {b}")
    return problems
