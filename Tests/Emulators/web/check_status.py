#!/usr/bin/env python3
"""Checks Vigie's status page the way a scraper and a browser would.

Usage: check_status.py BASE_URL

Prints one JSON object: the page's SVG graphs checked as XML (count and
problems), the metric families parsed by prometheus_client's own text parser
(name -> type and samples), and /api/status decoded.
"""
import json
import re
import sys
import urllib.request
import xml.etree.ElementTree as ET

from prometheus_client.parser import text_string_to_metric_families


def get(url):
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode("utf-8")


def main():
    base = sys.argv[1].rstrip("/") + "/"
    result = {}
    status, content_type, page = get(base)
    result["page"] = {"status": status, "content_type": content_type}
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    problems = []
    points = []
    for svg in svgs:
        try:
            root = ET.fromstring(svg)
        except ET.ParseError as error:
            problems.append(str(error))
            continue
        for polyline in root.iter("{http://www.w3.org/2000/svg}polyline"):
            points.append(polyline.get("points"))
    result["svg"] = {"count": len(svgs), "problems": problems, "polylines": points}

    status, content_type, metrics = get(base + "metrics")
    families = {}
    for family in text_string_to_metric_families(metrics):
        families[family.name] = {
            "type": family.type,
            "samples": [[sample.name, sample.labels, sample.value] for sample in family.samples],
        }
    result["metrics"] = {"status": status, "content_type": content_type, "families": families}

    status, content_type, api = get(base + "api/status")
    result["api"] = {"status": status, "content_type": content_type, "body": json.loads(api)}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
