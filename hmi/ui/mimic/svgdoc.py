"""SVG document surgery for mimic screens (ElementTree; no Qt).

The engineer's SVG stays the source of truth. At load time the HMI

* injects the theme's CSS (state classes such as ``st-open``, ``st-tripped``, ``q-bad``),
* takes every *bound* element out of the static background, and
* builds, per bound element and per state, a tiny document holding only that element
  (inside copies of its ancestor groups, so transforms and CSS context are kept) with
  the state classes added. Qt's SVG renderer supports CSS class selectors, so a
  symbol's look per state is pure data in the symbol and the theme.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_NAMESPACES = {
    "": SVG_NS,
    "xlink": XLINK_NS,
    "inkscape": "http://www.inkscape.org/namespaces/inkscape",
    "sodipodi": "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "cc": "http://creativecommons.org/ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
}
for _prefix, _uri in _NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)

_q = "{%s}%s".__mod__


class SvgError(ValueError):
    """The SVG cannot be used as a mimic screen."""


@dataclass
class SvgDoc:
    """A parsed mimic SVG: the tree, its ids, and the parent of every element."""

    root: ET.Element
    ids: dict[str, ET.Element] = field(default_factory=dict)
    parents: dict[ET.Element, ET.Element] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, name: str = "screen") -> SvgDoc:
        """Parse SVG text; SvgError with the XML error position when malformed."""
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise SvgError(f"{name}: not valid XML: {exc}") from None
        if root.tag != _q((SVG_NS, "svg")):
            raise SvgError(f"{name}: the root element is not <svg> in the SVG namespace")
        doc = cls(root)
        for parent in root.iter():
            for child in parent:
                doc.parents[child] = parent
            eid = parent.get("id")
            if eid:
                doc.ids[eid] = parent
        return doc

    # ------------------------------------------------------------------ building documents
    def _head(self, css: str, defs: str) -> list[ET.Element]:
        """Elements every built document starts with: extra defs, the document's own
        <defs> and <style>, then the theme CSS. Qt applies a style sheet only to the
        elements after it, so all of them go first, theme last (it wins)."""
        head: list[ET.Element] = []
        ours: set[str] = set()
        if defs:
            extra = ET.fromstring(f'<defs xmlns="{SVG_NS}">{defs}</defs>')
            ours = {e.get("id", "") for e in extra}
            head.append(extra)
        for child in self.root.iter():
            if child.tag == _q((SVG_NS, "defs")) and self.parents.get(child) is self.root:
                mine = copy.deepcopy(child)
                for e in list(mine):
                    if e.get("id") in ours:  # the HMI's own definition (theme colors) wins
                        mine.remove(e)
                head.append(mine)
        for child in self.root.iter():
            if child.tag == _q((SVG_NS, "style")):
                head.append(copy.deepcopy(child))
        if css:
            style = ET.Element(_q((SVG_NS, "style")), {"type": "text/css"})
            style.text = css
            head.append(style)
        return head

    def background(
        self,
        hidden_ids: set[str],
        css: str,
        defs: str = "",
        texts: dict[str, str] | None = None,
        by_id: dict[str, str] | None = None,
    ) -> bytes:
        """The document with ``hidden_ids`` removed, the theme applied and texts translated.

        ``texts`` maps an SVG text (as drawn, English) to the text to show instead;
        ``by_id`` sets the text of elements by id (labels taken from the tag config).
        """
        root = copy.deepcopy(self.root)
        for el in root.iter():
            if by_id and el.get("id") in by_id:
                el.text = by_id[el.get("id", "")]
                for child in list(el):
                    el.remove(child)
        if texts:
            for el in root.iter():
                if (
                    el.tag in (_q((SVG_NS, "text")), _q((SVG_NS, "tspan")))
                    and el.text
                    and el.text.strip() in texts
                ):
                    el.text = texts[el.text.strip()]
        parents = {c: p for p in root.iter() for c in p}
        for el in list(root.iter()):
            if el.tag == _q((SVG_NS, "style")) or (
                el.tag == _q((SVG_NS, "defs")) and parents.get(el) is root
            ):
                parents[el].remove(el)
            elif el.get("id") in hidden_ids and el in parents:
                parents[el].remove(el)
        for i, el in enumerate(self._head(css, defs)):
            root.insert(i, el)
        return ET.tostring(root, encoding="utf-8")

    def element_doc(self, eid: str, classes: str, css: str, defs: str = "") -> bytes:
        """A document holding only element ``eid`` (in its ancestor groups) with ``classes`` added."""
        el = self.ids.get(eid)
        if el is None:
            raise SvgError(f"no element with id {eid!r}")
        out = ET.Element(self.root.tag, dict(self.root.attrib))
        out.extend(self._head(css, defs))
        chain: list[ET.Element] = []
        p = self.parents.get(el)
        while p is not None and p is not self.root:
            chain.append(p)
            p = self.parents.get(p)
        holder = out
        for anc in reversed(chain):
            attrs = {k: v for k, v in anc.attrib.items() if k in ("transform", "class", "style")}
            holder = ET.SubElement(holder, _q((SVG_NS, "g")), attrs)
        mine = copy.deepcopy(el)
        mine.set("class", f"{el.get('class', '')} {classes}".strip())
        holder.append(mine)
        return ET.tostring(out, encoding="utf-8")

    def text_of(self, eid: str) -> str | None:
        """The text content of <text> element ``eid`` (None when there is no such element)."""
        el = self.ids.get(eid)
        if el is None or el.tag != _q((SVG_NS, "text")):
            return None
        return "".join(el.itertext())

    def classes_of(self, eid: str) -> set[str]:
        """CSS classes of an element."""
        el = self.ids.get(eid)
        return set((el.get("class") or "").split()) if el is not None else set()

    def title_of(self, eid: str) -> str:
        """The element's <title> (Inkscape's object title), or ''."""
        el = self.ids.get(eid)
        if el is None:
            return ""
        t = el.find(_q((SVG_NS, "title")))
        return (t.text or "").strip() if t is not None else ""
