declare module 'cytoscape-fcose';
