// Allure 3 report settings for `npm run report`: one self-contained HTML file that opens from
// the file system (the awesome report's single-file mode: data and scripts inlined).
export default {
  name: 'dfu-hil',
  output: 'allure-report',
  plugins: {
    awesome: {
      options: {
        singleFile: true,
        reportName: 'dfu-hil',
        reportLanguage: 'en',
        groupBy: ['parentSuite', 'suite', 'subSuite'],
      },
    },
  },
};
