"""Plugins: what a backbone or a head is (specs, preprocessing modes), the registries that list and create them
(built-ins, entry points, ``--code`` files), their listings, and the contract suite plugin authors run
(``from runner.plugins.testing import check_backbone, check_head``). Imports only the leaves."""
