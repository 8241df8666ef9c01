/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cockpit's dark theme, as its own pages follow it: the shell keeps the user's choice in
 * localStorage "shell:style" ("auto", "light" or "dark") and announces changes with a
 * "cockpit-style" event; "auto" (and a page opened outside the shell) follows the browser's
 * prefers-color-scheme. The page is dark while <html> has the class pf-v5-theme-dark
 * (newer Cockpit, PatternFly 5) or pf-theme-dark (earlier Cockpit, PatternFly 4).
 */
(function () {
    "use strict";

    const media = window.matchMedia("(prefers-color-scheme: dark)");

    function storedStyle() {
        try {
            return window.localStorage.getItem("shell:style") || "auto";
        } catch (e) {
            return "auto";
        }
    }

    function apply(style) {
        const dark = style === "dark" || (style !== "light" && media.matches);
        document.documentElement.classList.toggle("pf-v5-theme-dark", dark);
        document.documentElement.classList.toggle("pf-theme-dark", dark);
    }

    apply(storedStyle());
    media.addEventListener("change", () => apply(storedStyle()));
    window.addEventListener("storage", ev => {
        if (ev.key === "shell:style")
            apply(storedStyle());
    });
    window.addEventListener("cockpit-style", ev => {
        apply((ev.detail && ev.detail.style) || storedStyle());
    });
}());
