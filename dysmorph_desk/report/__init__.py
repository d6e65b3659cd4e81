"""The PDF screening report.

- :mod:`.options`: ``ReportOptions``, the clinic's choices (no reportlab: the GUI imports it).
- :mod:`.render`: ``report_bytes`` and ``render_report``, which assemble and write the PDF.
- :mod:`.sections` and :mod:`.model_table`: the flowables of each part of the page.
- :mod:`.images`: photos, heatmaps and the logo, downscaled and embedded as JPEG.
- :mod:`.text`: multi-script user text as Paragraph markup with font fallback.
- :mod:`.formatting`: numbers, percentages, PPV/NPV, ages, dates and metrics as printed.
- :mod:`.style`: fonts, colours, paragraph styles and page sizes.

Nothing here imports reportlab, so ``import dysmorph_desk.report.options`` stays light; import
:mod:`dysmorph_desk.report.render` for the renderer.
"""
